package site_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/site"
	"github.com/aigate/aigate/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// TestSetupConcurrent is the bug the deployment_setup lock exists for: ten
// replicas starting together on separate connections all succeed and all see
// one deployment ID.
func TestSetupConcurrent(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	const n = 10
	ids := make([]uuid.UUID, n)
	var wg sync.WaitGroup
	for i := range n {
		db := testdb.Open(t, url)
		wg.Go(func() {
			s, err := site.Setup(context.Background(), db, time.Now())
			require.NoError(t, err)
			ids[i] = s.DeploymentID
		})
	}
	wg.Wait()
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
	require.NotEqual(t, uuid.Nil, ids[0])
	var rows int
	require.NoError(t, testdb.Open(t, url).Pool.QueryRow(context.Background(),
		"SELECT count(*) FROM site_configs WHERE key = $1", site.KeyDeploymentID).Scan(&rows))
	require.Equal(t, 1, rows)
}

func TestSetupKeepsExistingValues(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	ctx := context.Background()
	first, err := site.Setup(ctx, db, time.Now())
	require.NoError(t, err)
	second, err := site.Setup(ctx, db, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, first, second)
}
