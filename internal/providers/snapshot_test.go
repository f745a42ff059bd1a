package providers_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/audit"
	"github.com/aigate/aigate/internal/providers"
	"github.com/aigate/aigate/internal/testdb"
)

// List and Get read a provider and its keys in one snapshot: while its keys
// are replaced again and again, every answer pairs the provider with the
// keys of its own version. Each version is written at its own instant, so a
// key created after the provider's updated_at is a key from a later version.
func TestListAndGetReadOneSnapshot(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	svc := providers.NewService(db, keyring(t, keyA), &audit.Recorder{},
		func() time.Time { return time.UnixMicro(now.Load()).UTC() })
	ctx := context.Background()
	createOpenAI(t, svc, "openai", secret1, secret2)

	const rotations = 60
	consistent := func(p providers.Provider) error {
		for _, k := range p.APIKeys {
			if k.CreatedAt.After(p.UpdatedAt) {
				return fmt.Errorf("provider updated at %s listed with key %s created at %s", p.UpdatedAt, k.ID, k.CreatedAt)
			}
		}
		return nil
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	readErrs := make([]error, 2)
	for i, read := range []func() (providers.Provider, error){
		func() (providers.Provider, error) {
			list, err := svc.List(ctx, false)
			if err != nil {
				return providers.Provider{}, err
			}
			if len(list) != 1 {
				return providers.Provider{}, fmt.Errorf("list: %d providers", len(list))
			}
			return list[0], nil
		},
		func() (providers.Provider, error) { return svc.Get(ctx, "openai") },
	} {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				p, err := read()
				if err == nil {
					err = consistent(p)
				}
				if err != nil {
					readErrs[i] = err
					return
				}
			}
		})
	}
	for i := range rotations {
		now.Add(1)
		keys := addKeys(fmt.Sprintf("sk-test-ROTATE-%04d-0123456789abcdefghij", i), fmt.Sprintf("sk-test-ROTATE-%04d-klmnopqrstuvwxyz0123", i))
		_, err := svc.Update(ctx, actor, "openai", providers.Patch{APIKeys: &keys})
		require.NoError(t, err)
	}
	close(done)
	wg.Wait()
	require.NoError(t, readErrs[0], "List")
	require.NoError(t, readErrs[1], "Get")
}
