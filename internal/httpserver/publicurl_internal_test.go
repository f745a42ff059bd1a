package httpserver

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// What a header may put in a public URL: a host and a port, nothing that
// would turn the URL into another one.
func TestCleanHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string // want "" for refused
	}{
		{"aigate.example.com", "aigate.example.com"},
		{"AIGate.Example.COM:8443", "aigate.example.com:8443"},
		{"127.0.0.1:8080", "127.0.0.1:8080"},
		{"localhost", "localhost"},
		{"my_host.internal", "my_host.internal"},
		{"[2001:db8::1]:443", "[2001:db8::1]:443"},
		{"[2001:DB8::1]", "[2001:db8::1]"},
		{"host:0080", "host:80"},
		{"", ""},
		{"evil example", ""},
		{"evil\texample", ""},
		{"evil\x00example", ""},
		{"evil.example\r\nX-Injected: 1", ""},
		{"evil.example/path", ""},
		{"evil.example/", ""},
		{"user@evil.example", ""},
		{"user:pass@evil.example", ""},
		{"evil.example?x=1", ""},
		{"evil.example#frag", ""},
		{`evil.example\foo`, ""},
		{"evil.example:99999", ""},
		{"evil.example:0", ""},
		{"evil.example:+80", ""},
		{"evil.example:", ""},
		{"evil.example:http", ""},
		{"a..b", ""},
		{".evil.example", ""},
		{"évil.example", ""},
		{"2001:db8::1", ""},
		{"[fe80::1%eth0]:80", ""},
		{"[127.0.0.1]:80", ""},
		{"[2001:db8::1]x", ""},
		{"[2001:db8::1", ""},
		{"a.b.c:80:80", ""},
	} {
		got, ok := cleanHost(tc.in)
		require.Equal(t, tc.want != "", ok, "%q", tc.in)
		require.Equal(t, tc.want, got, "%q", tc.in)
	}
}
