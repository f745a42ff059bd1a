package gateway

import (
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/aigate/aigate/internal/bedrock"
	"github.com/aigate/aigate/internal/providers"
)

// Snapshot is an immutable view of the providers a replica serves. Requests
// read the current one once and use it to the end, so a reload never changes
// a provider under an in-flight request.
type Snapshot struct {
	byName   map[string]*provider
	LoadedAt time.Time
}

// provider is one provider ready to serve: parsed base URL, decrypted keys,
// Bedrock client.
type provider struct {
	id      uuid.UUID
	name    string
	typ     providers.Type
	shape   shape
	enabled bool
	// target is the base URL as a string ending in "/": the upstream URL is
	// target + endpoint path, with no parsing per request beyond the one
	// http.NewRequest does.
	target  string
	keys    []*upstreamKey
	bedrock *bedrock.Client
	updated time.Time
	// err is why the provider cannot be served; requests get 503.
	err error
}

// upstreamKey is one provider key with its cooldown. Keys are immutable rows
// (a new key gets a new ID), so the cooldown of a key carries over from one
// snapshot to the next by ID.
type upstreamKey struct {
	id uuid.UUID
	// header is the ready-made value of the upstream auth header.
	header string
	// coolUntil is when the key may be used again after a 401/429, in Unix
	// nanoseconds; 0 when it is not cooling down.
	coolUntil atomic.Int64
}

// pick returns the first key, in position order, that is not cooling down;
// when all are, the one that comes back soonest. i is its index.
func (p *provider) pick(now time.Time, skip []bool) (k *upstreamKey, i int) {
	n := now.UnixNano()
	best, bestAt := -1, int64(0)
	for j, key := range p.keys {
		if skip != nil && skip[j] {
			continue
		}
		at := key.coolUntil.Load()
		if at <= n {
			return key, j
		}
		if best < 0 || at < bestAt {
			best, bestAt = j, at
		}
	}
	if best < 0 {
		return nil, -1
	}
	return p.keys[best], best
}

// buildSnapshot turns loaded providers into a snapshot, reusing what it
// can from prev (key cooldowns, Bedrock clients with their credential
// caches).
func buildSnapshot(live []providers.Live, prev *Snapshot, now time.Time) *Snapshot {
	s := &Snapshot{byName: make(map[string]*provider, len(live)), LoadedAt: now}
	oldKeys := map[uuid.UUID]*upstreamKey{}
	if prev != nil {
		for _, p := range prev.byName {
			for _, k := range p.keys {
				oldKeys[k.id] = k
			}
		}
	}
	for _, l := range live {
		p := &provider{id: l.ID, name: l.Name, typ: l.Type, enabled: l.Enabled, updated: l.UpdatedAt, err: l.Err}
		if l.Type == providers.OpenAI {
			p.shape = shapeOpenAI
		} else {
			p.shape = shapeAnthropic
		}
		s.byName[l.Name] = p
		if p.err != nil {
			continue
		}
		u, err := url.Parse(l.BaseURL)
		if err != nil {
			p.err = fmt.Errorf("parse base URL: %w", err)
			continue
		}
		p.target = u.String()
		for _, k := range l.Keys {
			if old, ok := oldKeys[k.ID]; ok {
				p.keys = append(p.keys, old)
				continue
			}
			uk := &upstreamKey{id: k.ID}
			if l.Type == providers.OpenAI {
				uk.header = "Bearer " + k.Secret
			} else {
				uk.header = k.Secret
			}
			p.keys = append(p.keys, uk)
		}
		if l.Type == providers.Bedrock {
			p.bedrock, p.err = reuseBedrock(prev, l)
		} else if len(p.keys) == 0 {
			p.err = fmt.Errorf("provider has no API keys; add one with `aigate providers edit %s --add-api-key-stdin`", l.Name)
		}
	}
	return s
}

func reuseBedrock(prev *Snapshot, l providers.Live) (*bedrock.Client, error) {
	if prev != nil {
		if old, ok := prev.byName[l.Name]; ok && old.id == l.ID && old.updated.Equal(l.UpdatedAt) && old.bedrock != nil {
			return old.bedrock, nil
		}
	}
	cfg := bedrock.Config{Name: l.Name, BaseURL: l.BaseURL}
	if l.Settings != nil {
		cfg.Region, cfg.Model, cfg.SmallFastModel = l.Settings.Region, l.Settings.Model, l.Settings.SmallFastModel
	}
	for _, c := range l.Credentials {
		cfg.Credentials = append(cfg.Credentials, bedrock.Credential{AccessKey: c.AccessKey, SecretKey: c.AccessKeySecret})
	}
	c, err := bedrock.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("bedrock: %w", err)
	}
	return c, nil
}

// counts is how many providers are in each state, for the providers gauge.
// Problem is why this snapshot cannot serve the enabled provider named
// name, nil when it can, when the provider is disabled, or when the
// snapshot does not hold it (a provider created since it was built). Its
// text is for operators: what failed, never a key.
func (s *Snapshot) Problem(name string) error {
	if s == nil {
		return nil
	}
	p, ok := s.byName[name]
	if !ok || !p.enabled {
		return nil
	}
	return p.err
}

func (s *Snapshot) counts() (enabled, disabled, broken int) {
	for _, p := range s.byName {
		switch {
		case p.err != nil:
			broken++
		case p.enabled:
			enabled++
		default:
			disabled++
		}
	}
	return
}
