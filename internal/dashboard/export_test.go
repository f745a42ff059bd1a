package dashboard

import (
	"slices"

	"github.com/aigate/aigate/internal/auth"
)

// RouteInfo is a page's pattern and whether members and auditors may use it.
type RouteInfo struct {
	Pattern         string
	Member, Auditor bool
}

// Routes lists the route table, so a test over every page cannot forget one.
func Routes() []RouteInfo {
	var out []RouteInfo
	for _, p := range (&Dashboard{}).routes() {
		out = append(out, RouteInfo{Pattern: p.pattern, Member: slices.Contains(p.who, auth.RoleMember), Auditor: slices.Contains(p.who, auth.RoleAuditor)})
	}
	return out
}
