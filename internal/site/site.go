// Package site owns the values generated once per deployment and shared by
// every replica (the deployment ID and generated secrets), kept in
// site_configs.
package site

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/aigate/aigate/internal/database"
	"github.com/aigate/aigate/internal/database/dbsqlc"
)

// KeyDeploymentID identifies this deployment (all replicas on one database).
const KeyDeploymentID = "deployment_id"

// generated lists every site value created on first start. A value added in
// a later release is created on the first start of that release.
var generated = []struct {
	key string
	new func() (string, error)
}{
	{KeyDeploymentID, func() (string, error) {
		id, err := uuid.NewRandom()
		return id.String(), err
	}},
}

// Site is the deployment's generated values.
type Site struct {
	DeploymentID uuid.UUID
}

// Setup gets the site values, creating the missing ones. It runs in one
// transaction under the deployment_setup lock: replicas that start together
// queue there, the first creates the values, the rest read them. Without the
// lock two replicas would both see nothing and one would fail on a duplicate
// key.
func Setup(ctx context.Context, db *database.DB, now time.Time) (Site, error) {
	return database.LockedTx(ctx, db, database.LockDeploymentSetup, func(ctx context.Context, tx pgx.Tx) (Site, error) {
		q := dbsqlc.New(tx)
		rows, err := q.SiteConfigList(ctx)
		if err != nil {
			return Site{}, fmt.Errorf("read site_configs: %w", err)
		}
		values := make(map[string]string, len(rows))
		for _, r := range rows {
			values[r.Key] = r.Value
		}
		for _, g := range generated {
			if _, ok := values[g.key]; ok {
				continue
			}
			v, err := g.new()
			if err != nil {
				return Site{}, fmt.Errorf("generate %s: %w", g.key, err)
			}
			if err := q.SiteConfigInsert(ctx, dbsqlc.SiteConfigInsertParams{Key: g.key, Value: v, CreatedAt: now.UTC()}); err != nil {
				return Site{}, fmt.Errorf("store %s: %w", g.key, err)
			}
			values[g.key] = v
		}
		id, err := uuid.Parse(values[KeyDeploymentID])
		if err != nil {
			return Site{}, fmt.Errorf("site_configs holds a malformed %s: %w", KeyDeploymentID, err)
		}
		return Site{DeploymentID: id}, nil
	})
}
