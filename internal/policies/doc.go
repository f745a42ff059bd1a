// Package policies owns groups (teams of users a policy can name) and
// policies (budgets, token and request limits, concurrency caps and model
// allow-lists over everyone, a group, a user or a token): their validation,
// the create, edit and delete operations, each committed in one transaction
// with its audit entry and a notification on ChangedChannel, and what the
// enforcement engine (internal/limits) reads: the enabled policies, the
// memberships, a policy's calendar window in its time zone (Window), whether
// it applies to a request (Matches) and whose window a request draws on
// (Subject). Status reads a window's spent and reserved amounts for the API.
// HTTP handlers, the CLI and the dashboard are thin layers over this
// package; enforcement itself lives in internal/limits.
//
// The files follow its seams: the policy the engine sees and its calendar
// (policy.go), amounts in dollars (money.go), what a request sends and how
// it is judged (input.go), groups (groups.go), policies (service.go), and
// status (status.go).
package policies
