// Package helm holds the tests of the aigate Helm chart (./aigate). It is a
// module of its own so that the server's module does not carry the Helm and
// Kubernetes libraries the tests render and lint the chart with.
package helm
