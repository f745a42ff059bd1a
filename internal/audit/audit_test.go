package audit_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aigate/aigate/internal/audit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestChanges(t *testing.T) {
	t.Parallel()
	var noTime *time.Time
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		old, new map[string]any
		secret   []string
		want     audit.Diff
	}{
		"creation": {nil, map[string]any{"name": "a", "expires_at": noTime}, nil,
			audit.Diff{"name": {Old: nil, New: "a"}}},
		"unchanged fields are left out": {map[string]any{"name": "a", "role": "member"}, map[string]any{"name": "b", "role": "member"}, nil,
			audit.Diff{"name": {Old: "a", New: "b"}}},
		"secret masked both sides": {map[string]any{"password": "h1"}, map[string]any{"password": "h2"}, []string{"password"},
			audit.Diff{"password": {Old: audit.Masked, New: audit.Masked}}},
		"secret added": {nil, map[string]any{"password": "h1"}, []string{"password"},
			audit.Diff{"password": {Old: nil, New: audit.Masked}}},
		"deletion": {map[string]any{"expires_at": &at}, nil, nil,
			audit.Diff{"expires_at": {Old: &at, New: nil}}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, audit.Changes(tc.old, tc.new, tc.secret...))
		})
	}
}
