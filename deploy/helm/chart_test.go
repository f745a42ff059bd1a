package helm_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "aigate"

// kubeVersion is the oldest Kubernetes the chart claims (Chart.yaml
// kubeVersion): a Helm library built without the release's ldflags would
// otherwise render for 1.20.
var kubeVersion = &chartutil.KubeVersion{Version: "v1.30.0", Major: "1", Minor: "30"}

func newInstall() *action.Install {
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = "gw", "ai"
	install.KubeVersion = kubeVersion
	return install
}

// loadChart is shared: the chart is read from disk once for every test.
var loadChart = sync.OnceValues(func() (*chart.Chart, error) { return loader.Load(chartDir) })

// required is the least a user must set; every render but the failure tests
// starts from it.
func required() map[string]any {
	return map[string]any{
		"postgres":   map[string]any{"existingSecret": "pg"},
		"encryption": map[string]any{"existingSecret": "keys"},
	}
}

// with merges b over a (maps deeply), so a case names only what it changes.
func with(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		am, aok := out[k].(map[string]any)
		bm, bok := v.(map[string]any)
		if aok && bok {
			out[k] = with(am, bm)
			continue
		}
		out[k] = v
	}
	return out
}

// render runs what `helm template` runs: an install with no cluster.
func render(t *testing.T, values map[string]any) (map[string][]byte, error) {
	t.Helper()
	ch, err := loadChart()
	require.NoError(t, err)
	rel, err := newInstall().Run(ch, values)
	if err != nil {
		return nil, err
	}
	objects := map[string][]byte{}
	for _, doc := range releaseutil.SplitManifests(rel.Manifest) {
		var meta struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &meta), doc)
		key := meta.Kind + "/" + meta.Metadata.Name
		require.NotContains(t, objects, key, "rendered twice")
		objects[key] = []byte(doc)
	}
	return objects, nil
}

func mustRender(t *testing.T, values map[string]any) map[string][]byte {
	t.Helper()
	objects, err := render(t, values)
	require.NoError(t, err)
	return objects
}

// decode reads one rendered object strictly: a field the Kubernetes type
// does not have (a typo in a template) fails the test.
func decode[T any](t *testing.T, objects map[string][]byte, key string) T {
	t.Helper()
	doc, ok := objects[key]
	require.True(t, ok, "%s not rendered; rendered: %v", key, keys(objects))
	var obj T
	require.NoError(t, yaml.UnmarshalStrict(doc, &obj), "%s:\n%s", key, doc)
	return obj
}

func keys(objects map[string][]byte) []string {
	var out []string
	for k := range objects {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func container(t *testing.T, d appsv1.Deployment) corev1.Container {
	t.Helper()
	require.Len(t, d.Spec.Template.Spec.Containers, 1)
	return d.Spec.Template.Spec.Containers[0]
}

func env(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	objects := mustRender(t, required())
	assert.Equal(t, []string{"Deployment/gw-aigate", "Service/gw-aigate", "Service/gw-aigate-metrics", "ServiceAccount/gw-aigate"}, keys(objects),
		"the optional objects are off by default")

	d := decode[appsv1.Deployment](t, objects, "Deployment/gw-aigate")
	require.NotNil(t, d.Spec.Replicas)
	assert.Equal(t, int32(2), *d.Spec.Replicas)
	s := d.Spec.Strategy
	assert.Equal(t, appsv1.RollingUpdateDeploymentStrategyType, s.Type)
	require.NotNil(t, s.RollingUpdate)
	assert.Equal(t, "0", s.RollingUpdate.MaxUnavailable.String(), "a rollout must never go below the replica count")
	assert.Equal(t, "1", s.RollingUpdate.MaxSurge.String())
	assert.Equal(t, d.Spec.Selector.MatchLabels, map[string]string{"app.kubernetes.io/name": "aigate", "app.kubernetes.io/instance": "gw"})
	for k, v := range d.Spec.Selector.MatchLabels {
		assert.Equal(t, v, d.Spec.Template.Labels[k], "the pods must carry the selector's labels")
	}

	c := container(t, d)
	assert.Equal(t, "aigate:dev", c.Image, "the tag defaults to the chart's appVersion")
	assert.Equal(t, []string{"server"}, c.Args)
	e := env(c)
	assert.Equal(t, "0.0.0.0:8080", e["AIGATE_HTTP_ADDRESS"].Value, "in a pod the listener must not be loopback")
	assert.Equal(t, "0.0.0.0:9464", e["AIGATE_METRICS_ADDRESS"].Value)
	assert.Equal(t, "30s", e["AIGATE_SHUTDOWN_TIMEOUT"].Value)
	assert.Equal(t, "json", e["AIGATE_LOG_FORMAT"].Value)
	assert.NotContains(t, e, "AIGATE_TRUSTED_PROXIES")
	assert.NotContains(t, e, "AIGATE_POSTGRES_LISTEN_URL", "the pub/sub uses the pool's URL unless a direct one is named")
	assert.Empty(t, c.EnvFrom, "no provider secret unless one is named")

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	assert.Equal(t, map[string]int32{"http": 8080, "metrics": 9464}, ports)

	require.NotNil(t, c.ReadinessProbe)
	require.NotNil(t, c.ReadinessProbe.HTTPGet)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, "http", c.ReadinessProbe.HTTPGet.Port.String())
	require.NotNil(t, c.LivenessProbe)
	require.NotNil(t, c.LivenessProbe.HTTPGet)
	assert.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)

	require.NotNil(t, c.Lifecycle)
	require.NotNil(t, c.Lifecycle.PreStop)
	require.NotNil(t, c.Lifecycle.PreStop.Sleep, "the image need not have a shell: the preStop must be the kubelet's sleep action")
	assert.Equal(t, int64(5), c.Lifecycle.PreStop.Sleep.Seconds)
	require.NotNil(t, d.Spec.Template.Spec.TerminationGracePeriodSeconds)
	assert.Equal(t, int64(5+30+25), *d.Spec.Template.Spec.TerminationGracePeriodSeconds)

	svc := decode[corev1.Service](t, objects, "Service/gw-aigate")
	require.Len(t, svc.Spec.Ports, 1, "the main Service must not expose the metrics port")
	assert.Equal(t, int32(80), svc.Spec.Ports[0].Port)
	assert.Equal(t, "http", svc.Spec.Ports[0].TargetPort.String())
	assert.Equal(t, d.Spec.Selector.MatchLabels, svc.Spec.Selector)

	m := decode[corev1.Service](t, objects, "Service/gw-aigate-metrics")
	require.Len(t, m.Spec.Ports, 1)
	assert.Equal(t, "metrics", m.Spec.Ports[0].Name)
	assert.Equal(t, "metrics", m.Labels["app.kubernetes.io/component"])

	sa := decode[corev1.ServiceAccount](t, objects, "ServiceAccount/gw-aigate")
	assert.Equal(t, sa.Name, d.Spec.Template.Spec.ServiceAccountName)
	require.NotNil(t, d.Spec.Template.Spec.AutomountServiceAccountToken)
	assert.False(t, *d.Spec.Template.Spec.AutomountServiceAccountToken)
}

func TestSecurityContext(t *testing.T) {
	t.Parallel()
	d := decode[appsv1.Deployment](t, mustRender(t, required()), "Deployment/gw-aigate")
	pod := d.Spec.Template.Spec.SecurityContext
	require.NotNil(t, pod)
	require.NotNil(t, pod.RunAsNonRoot)
	assert.True(t, *pod.RunAsNonRoot)
	require.NotNil(t, pod.RunAsUser)
	assert.Equal(t, int64(65532), *pod.RunAsUser, "the image's user")
	require.NotNil(t, pod.SeccompProfile)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, pod.SeccompProfile.Type)

	c := container(t, d)
	sc := c.SecurityContext
	require.NotNil(t, sc)
	require.NotNil(t, sc.ReadOnlyRootFilesystem)
	assert.True(t, *sc.ReadOnlyRootFilesystem)
	require.NotNil(t, sc.AllowPrivilegeEscalation)
	assert.False(t, *sc.AllowPrivilegeEscalation)
	require.NotNil(t, sc.RunAsNonRoot)
	assert.True(t, *sc.RunAsNonRoot)
	require.NotNil(t, sc.Capabilities)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	assert.Empty(t, sc.Capabilities.Add)

	// A read-only root needs a writable /tmp, backed by an emptyDir.
	var mounted bool
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == "/tmp" {
			mounted = true
			var found bool
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name == vm.Name {
					found = true
					assert.NotNil(t, v.EmptyDir, "volume %s", v.Name)
				}
			}
			assert.True(t, found, "volume %s mounted but not declared", vm.Name)
		}
	}
	assert.True(t, mounted, "no /tmp mount")
}

func TestSecretsWiring(t *testing.T) {
	t.Parallel()
	objects := mustRender(t, with(required(), map[string]any{
		"postgres":       map[string]any{"existingSecret": "db-creds", "secretKey": "dsn", "listenSecretKey": "direct"},
		"encryption":     map[string]any{"existingSecret": "aigate-keys", "secretKey": "k"},
		"providers":      map[string]any{"existingSecret": "llm-keys"},
		"trustedProxies": []any{"10.0.0.0/8", "192.168.1.7"},
		"extraEnv":       []any{map[string]any{"name": "AIGATE_RECORD_PROMPTS", "value": "true"}},
	}))
	c := container(t, decode[appsv1.Deployment](t, objects, "Deployment/gw-aigate"))
	e := env(c)
	for name, want := range map[string][2]string{
		"AIGATE_POSTGRES_URL":        {"db-creds", "dsn"},
		"AIGATE_POSTGRES_LISTEN_URL": {"db-creds", "direct"},
		"AIGATE_ENCRYPTION_KEYS":     {"aigate-keys", "k"},
	} {
		v := e[name]
		assert.Empty(t, v.Value, "%s must never be a literal in the manifest", name)
		require.NotNil(t, v.ValueFrom, name)
		require.NotNil(t, v.ValueFrom.SecretKeyRef, name)
		assert.Equal(t, want[0], v.ValueFrom.SecretKeyRef.Name, name)
		assert.Equal(t, want[1], v.ValueFrom.SecretKeyRef.Key, name)
		assert.Nil(t, v.ValueFrom.SecretKeyRef.Optional, "%s: a missing secret must keep the pod from starting", name)
	}
	require.Len(t, c.EnvFrom, 1)
	require.NotNil(t, c.EnvFrom[0].SecretRef)
	assert.Equal(t, "llm-keys", c.EnvFrom[0].SecretRef.Name)
	assert.Empty(t, c.EnvFrom[0].Prefix, "provider variables are read by their own names")
	assert.Equal(t, "10.0.0.0/8,192.168.1.7", e["AIGATE_TRUSTED_PROXIES"].Value)
	assert.Equal(t, "true", e["AIGATE_RECORD_PROMPTS"].Value)
}

// TestBadValuesFail: a mistake in the values stops the render with what to
// fix, instead of a pod that never starts.
func TestBadValuesFail(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		values map[string]any
		want   []string
	}{
		"nothing set": {values: nil, want: []string{"postgres.existingSecret is empty", "kubectl create secret generic", "--set postgres.existingSecret="}},
		"no encryption keys": {
			values: map[string]any{"postgres": map[string]any{"existingSecret": "pg"}},
			want:   []string{"encryption.existingSecret is empty", "same AIGATE_ENCRYPTION_KEYS", "--set encryption.existingSecret="},
		},
		"empty key name": {
			values: with(required(), map[string]any{"postgres": map[string]any{"secretKey": ""}}),
			want:   []string{"postgres.secretKey is empty"},
		},
		"servicemonitor without metrics": {
			values: with(required(), map[string]any{"metrics": map[string]any{"enabled": false, "serviceMonitor": map[string]any{"enabled": true}}}),
			want:   []string{"metrics.serviceMonitor.enabled needs metrics.enabled: true"},
		},
		"fractional shutdown timeout": {
			values: with(required(), map[string]any{"shutdownTimeoutSeconds": 1.5}),
			want:   []string{"shutdownTimeoutSeconds must be a whole number of seconds"},
		},
		"shutdown timeout as a duration string": {
			values: with(required(), map[string]any{"shutdownTimeoutSeconds": "30s"}),
			want:   []string{`shutdownTimeoutSeconds must be a whole number of seconds (such as 30), not "30s"`},
		},
		"unknown log format": {
			values: with(required(), map[string]any{"logFormat": "xml"}),
			want:   []string{"/logFormat"},
		},
		"image tag read as a number": {
			values: with(required(), map[string]any{"image": map[string]any{"tag": 1.2}}),
			want:   []string{"/image/tag", "want string"},
		},
		"metrics on the public port": {
			values: with(required(), map[string]any{"metrics": map[string]any{"port": 8080}}),
			want:   []string{"metrics.port is 8080, the port of the public listener"},
		},
		"no grace margin": {
			values: with(required(), map[string]any{"terminationGraceMarginSeconds": 0}),
			want:   []string{"terminationGraceMarginSeconds must be 1 or more"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := render(t, tc.values)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestGracePeriod: the kubelet counts the preStop sleep against the grace
// period, so the SIGKILL must come after preStop + shutdown timeout + the
// bounded steps aigate takes after the drain.
func TestGracePeriod(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ preStop, shutdown, margin int }{
		{5, 30, 25}, {0, 30, 25}, {10, 600, 25}, {5, 1, 1}, {1000000, 3600, 25},
	} {
		t.Run(fmt.Sprintf("%d+%d+%d", tc.preStop, tc.shutdown, tc.margin), func(t *testing.T) {
			t.Parallel()
			d := decode[appsv1.Deployment](t, mustRender(t, with(required(), map[string]any{
				// float64, as a values file gives numbers: 1000000 must not print as 1e+06.
				"preStopSleepSeconds": float64(tc.preStop), "shutdownTimeoutSeconds": float64(tc.shutdown), "terminationGraceMarginSeconds": float64(tc.margin),
			})), "Deployment/gw-aigate")
			grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
			require.NotNil(t, grace)
			assert.Equal(t, int64(tc.preStop+tc.shutdown+tc.margin), *grace)
			assert.Greater(t, *grace, int64(tc.preStop+tc.shutdown))
			c := container(t, d)
			assert.Equal(t, fmt.Sprintf("%ds", tc.shutdown), env(c)["AIGATE_SHUTDOWN_TIMEOUT"].Value)
			if tc.preStop == 0 {
				assert.Nil(t, c.Lifecycle, "preStopSleepSeconds 0 turns the hook off")
			} else {
				require.NotNil(t, c.Lifecycle)
				assert.Equal(t, int64(tc.preStop), c.Lifecycle.PreStop.Sleep.Seconds)
			}
		})
	}
}

func TestEverythingOn(t *testing.T) {
	t.Parallel()
	objects := mustRender(t, with(required(), map[string]any{
		"replicaCount": 3,
		"image":        map[string]any{"repository": "registry.example/aigate", "tag": "1.2.3"},
		"ingress": map[string]any{
			"enabled": true, "className": "nginx",
			"annotations": map[string]any{"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"},
			"hosts":       []any{map[string]any{"host": "ai.example.com", "paths": []any{map[string]any{"path": "/", "pathType": "Prefix"}}}},
			"tls":         []any{map[string]any{"secretName": "ai-tls", "hosts": []any{"ai.example.com"}}},
		},
		"podDisruptionBudget": map[string]any{"enabled": true},
		"metrics":             map[string]any{"serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}}},
	}))
	assert.Equal(t, []string{
		"Deployment/gw-aigate", "Ingress/gw-aigate", "PodDisruptionBudget/gw-aigate", "Service/gw-aigate",
		"Service/gw-aigate-metrics", "ServiceAccount/gw-aigate", "ServiceMonitor/gw-aigate",
	}, keys(objects))

	d := decode[appsv1.Deployment](t, objects, "Deployment/gw-aigate")
	require.NotNil(t, d.Spec.Replicas)
	assert.Equal(t, int32(3), *d.Spec.Replicas)
	assert.Equal(t, "registry.example/aigate:1.2.3", container(t, d).Image)

	ing := decode[networkingv1.Ingress](t, objects, "Ingress/gw-aigate")
	require.NotNil(t, ing.Spec.IngressClassName)
	assert.Equal(t, "nginx", *ing.Spec.IngressClassName)
	assert.Equal(t, "3600", ing.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"])
	require.Len(t, ing.Spec.Rules, 1)
	assert.Equal(t, "ai.example.com", ing.Spec.Rules[0].Host)
	require.Len(t, ing.Spec.Rules[0].HTTP.Paths, 1)
	backend := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
	require.NotNil(t, backend)
	assert.Equal(t, "gw-aigate", backend.Name, "the Ingress must route to the main Service, never the metrics one")
	assert.Equal(t, "http", backend.Port.Name)
	require.Len(t, ing.Spec.TLS, 1)
	assert.Equal(t, "ai-tls", ing.Spec.TLS[0].SecretName)

	pdb := decode[policyv1.PodDisruptionBudget](t, objects, "PodDisruptionBudget/gw-aigate")
	require.NotNil(t, pdb.Spec.MaxUnavailable)
	assert.Equal(t, "1", pdb.Spec.MaxUnavailable.String())
	assert.Equal(t, d.Spec.Selector.MatchLabels, pdb.Spec.Selector.MatchLabels)

	// No Prometheus Operator types in the module: the ServiceMonitor is read generically.
	var sm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			NamespaceSelector struct {
				MatchNames []string `json:"matchNames"`
			} `json:"namespaceSelector"`
			Endpoints []struct {
				Port          string `json:"port"`
				Path          string `json:"path"`
				Interval      string `json:"interval"`
				ScrapeTimeout string `json:"scrapeTimeout"`
			} `json:"endpoints"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.UnmarshalStrict(objects["ServiceMonitor/gw-aigate"], &sm))
	assert.Equal(t, "monitoring.coreos.com/v1", sm.APIVersion)
	assert.Equal(t, "ServiceMonitor", sm.Kind)
	assert.Equal(t, "prom", sm.Metadata.Labels["release"])
	assert.Equal(t, []string{"ai"}, sm.Spec.NamespaceSelector.MatchNames)
	require.Len(t, sm.Spec.Endpoints, 1)
	assert.Equal(t, "metrics", sm.Spec.Endpoints[0].Port)
	assert.Equal(t, "/metrics", sm.Spec.Endpoints[0].Path)
	metricsSvc := decode[corev1.Service](t, objects, "Service/gw-aigate-metrics")
	for k, v := range sm.Spec.Selector.MatchLabels {
		assert.Equal(t, v, metricsSvc.Labels[k], "the ServiceMonitor must select the metrics Service")
	}
	mainSvc := decode[corev1.Service](t, objects, "Service/gw-aigate")
	assert.NotEqual(t, sm.Spec.Selector.MatchLabels["app.kubernetes.io/component"], mainSvc.Labels["app.kubernetes.io/component"],
		"the ServiceMonitor must not select the main Service")
}

func TestAutoscaling(t *testing.T) {
	t.Parallel()
	objects := mustRender(t, with(required(), map[string]any{
		"replicaCount": 3,
		"autoscaling":  map[string]any{"enabled": true, "minReplicas": 3, "maxReplicas": 9, "targetCPUUtilizationPercentage": 60},
	}))
	d := decode[appsv1.Deployment](t, objects, "Deployment/gw-aigate")
	assert.Nil(t, d.Spec.Replicas, "with an HPA the Deployment must not set replicas, or every upgrade resets the HPA's count")
	hpa := decode[autoscalingv2.HorizontalPodAutoscaler](t, objects, "HorizontalPodAutoscaler/gw-aigate")
	assert.Equal(t, "Deployment", hpa.Spec.ScaleTargetRef.Kind)
	assert.Equal(t, d.Name, hpa.Spec.ScaleTargetRef.Name)
	require.NotNil(t, hpa.Spec.MinReplicas)
	assert.Equal(t, int32(3), *hpa.Spec.MinReplicas)
	assert.Equal(t, int32(9), hpa.Spec.MaxReplicas)
	require.Len(t, hpa.Spec.Metrics, 1)
	require.NotNil(t, hpa.Spec.Metrics[0].Resource)
	require.NotNil(t, hpa.Spec.Metrics[0].Resource.Target.AverageUtilization)
	assert.Equal(t, int32(60), *hpa.Spec.Metrics[0].Resource.Target.AverageUtilization)
}

func TestMetricsOff(t *testing.T) {
	t.Parallel()
	objects := mustRender(t, with(required(), map[string]any{"metrics": map[string]any{"enabled": false}}))
	assert.NotContains(t, objects, "Service/gw-aigate-metrics")
	c := container(t, decode[appsv1.Deployment](t, objects, "Deployment/gw-aigate"))
	assert.Equal(t, "off", env(c)["AIGATE_METRICS_ADDRESS"].Value, "an empty variable counts as unset, so off it must be")
	for _, p := range c.Ports {
		assert.NotEqual(t, "metrics", p.Name)
	}
}

func TestNotes(t *testing.T) {
	t.Parallel()
	ch, err := loadChart()
	require.NoError(t, err)
	rel, err := newInstall().Run(ch, required())
	require.NoError(t, err)
	assert.Contains(t, rel.Info.Notes, "rollout status deployment/gw-aigate")
	assert.True(t, strings.Contains(rel.Info.Notes, "trustedProxies is empty"), rel.Info.Notes)
}

// TestLint runs what `helm lint --strict` runs, with the values a user must
// set, through the pinned Helm library: no helm binary to install.
func TestLint(t *testing.T) {
	t.Parallel()
	lint := action.NewLint()
	lint.Strict = true
	lint.Namespace = "ai"
	lint.KubeVersion = kubeVersion
	res := lint.Run([]string{chartDir}, required())
	for _, m := range res.Messages {
		t.Logf("%s", m)
	}
	assert.Empty(t, res.Errors)
	assert.Equal(t, 1, res.TotalChartsLinted)
	// Lint takes a template's fail as a chart that needs values, not as a
	// broken chart: a chart CI job can lint it without any secret names.
	bare := action.NewLint()
	bare.Strict = true
	bare.KubeVersion = kubeVersion
	assert.Empty(t, bare.Run([]string{chartDir}, nil).Errors)
}

// TestKubeVersion: the preStop sleep action needs Kubernetes 1.30, and the
// chart says so instead of rendering a hook an older API server rejects.
func TestKubeVersion(t *testing.T) {
	t.Parallel()
	ch, err := loadChart()
	require.NoError(t, err)
	install := newInstall()
	install.KubeVersion = &chartutil.KubeVersion{Version: "v1.29.9", Major: "1", Minor: "29"}
	_, err = install.Run(ch, required())
	require.Error(t, err)
	assert.Contains(t, err.Error(), ">=1.30.0")
}
