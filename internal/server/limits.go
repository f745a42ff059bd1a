package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/aigate/aigate/internal/auth"
	"github.com/aigate/aigate/internal/limits"
	"github.com/aigate/aigate/internal/policies"
)

// startLimits starts the policy engine. It comes before the recorder,
// whose writes settle what requests used of the policies.
func (s *System) startLimits(ctx context.Context) error {
	db := s.opened.DB
	s.limits = limits.New(limits.Config{
		DB: db, PubSub: s.pubsub, ReplicaID: s.replicaID, ChangedChannels: []string{policies.ChangedChannel, auth.ChangesChannel},
		LeaseTTL: s.cfg.PolicyLeaseTTL, Clock: s.clock, Logger: s.logger.With("component", "limits"), Registerer: s.reg,
		Load: func(ctx context.Context) ([]limits.Rule, error) {
			ps, err := policies.LoadEnabled(ctx, db)
			if err != nil {
				return nil, err
			}
			groups, err := policies.LoadMemberships(ctx, db)
			if err != nil {
				return nil, err
			}
			return rules(ps, groups), nil
		},
	})
	return s.limits.Start(ctx)
}

// rules is the engine's view of the enabled policies.
func rules(ps []policies.Policy, groups map[uuid.UUID][]uuid.UUID) []limits.Rule {
	out := make([]limits.Rule, 0, len(ps))
	for _, p := range ps {
		out = append(out, limits.Rule{
			ID: p.ID, Name: p.Name, Kind: limits.Kind(p.Kind), Limit: p.Limit,
			Allowed:  func(model string) bool { return policies.MatchAny(p.AllowModels, model) },
			Window:   p.Window,
			Describe: describe(p),
			Applies: func(r *limits.Request) bool {
				return p.Matches(r.UserID, r.TokenID, groups[r.UserID], r.Provider, r.Model)
			},
			Subject: p.Subject,
		})
	}
	return out
}

// describe says a policy's limit the way a denied client is told it.
func describe(p policies.Policy) string {
	var s string
	switch p.Kind {
	case policies.KindBudget:
		s = fmt.Sprintf("$%s per %s", policies.FormatUSD(p.Limit), p.Period)
	case policies.KindTokens:
		s = fmt.Sprintf("%d tokens per %s", p.Limit, p.Period)
	case policies.KindRequests:
		s = fmt.Sprintf("%d requests per %s", p.Limit, p.Period)
	case policies.KindConcurrency:
		s = fmt.Sprintf("%d requests in flight", p.Limit)
	case policies.KindModels:
		s = "models allowed: " + strings.Join(p.AllowModels, ", ")
	}
	if p.PerMember {
		s += " for each member"
	}
	if p.Period != "" && p.Period != policies.PeriodMinute && p.TimeZone != "" && p.TimeZone != "UTC" {
		s += " (" + p.TimeZone + ")"
	}
	return s
}
