package database

import "fmt"

// LockID names a PostgreSQL advisory lock. Every lock aigate takes is listed
// here with an explicit number. Numbers are never reused, even after a lock is
// retired, because replicas of different versions may run side by side during
// an upgrade and must still exclude each other.
//
// The numbers share the prefix 0x61696761 ("aiga") so that they are unlikely
// to collide with advisory locks taken by other applications on a shared
// PostgreSQL server.
type LockID int64

const (
	LockMigrations         LockID = 0x61696761_00000001
	LockDeploymentSetup    LockID = 0x61696761_00000002
	LockFirstUser          LockID = 0x61696761_00000003
	LockAIProvidersEnvSeed LockID = 0x61696761_00000004
	LockUsageRollup        LockID = 0x61696761_00000005
	LockUsageCounters      LockID = 0x61696761_00000006
	LockEncryptionRotate   LockID = 0x61696761_00000007
	// LockTestTemplate serialises creation of the migrated template database
	// when several test binaries share one PostgreSQL server.
	LockTestTemplate LockID = 0x61696761_00000008
	// LockInterceptionsRetention lets one replica at a time make and drop
	// the interceptions table's partitions (internal/interceptions).
	LockInterceptionsRetention LockID = 0x61696761_00000009
	// LockPriceBook lets one replica at a time compare the stored default
	// price book with the one it ships and replace it (internal/pricing).
	LockPriceBook LockID = 0x61696761_0000000A
)

// lockNames gives every lock its name for logs. A map literal with constant
// keys does not compile when two keys are equal, so a reused number is caught
// by the compiler; TestLockRegistry checks that every constant is listed.
var lockNames = map[LockID]string{
	LockMigrations:             "migrations",
	LockDeploymentSetup:        "deployment_setup",
	LockFirstUser:              "first_user",
	LockAIProvidersEnvSeed:     "ai_providers_env_seed",
	LockUsageRollup:            "usage_rollup",
	LockUsageCounters:          "usage_counters",
	LockEncryptionRotate:       "encryption_rotate",
	LockTestTemplate:           "test_template",
	LockInterceptionsRetention: "interceptions_retention",
	LockPriceBook:              "price_book",
}

func (l LockID) String() string {
	if name, ok := lockNames[l]; ok {
		return name
	}
	return fmt.Sprintf("unregistered_lock_%d", int64(l))
}
