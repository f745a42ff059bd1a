package providers

// The states a provider view reports (Provider.State). Like warnings, a
// state is computed each time a provider is shown, never stored.
const (
	StateReady    = "ready"
	StateDisabled = "disabled"
	StateDeleted  = "deleted"
	// StateNoKeys is an enabled openai or anthropic provider without an
	// API key: the gateway answers its requests with an error until one is
	// added. (A Bedrock provider without credentials uses the server's AWS
	// credential chain, so it is ready.)
	StateNoKeys = "broken: no API keys"
)

// state says whether the gateway can serve p now, and if not, why: the
// first of deleted, disabled, broken that applies, else ready.
func state(p Provider) string {
	switch {
	case p.Deleted:
		return StateDeleted
	case !p.Enabled:
		return StateDisabled
	case p.Type != Bedrock && len(p.APIKeys) == 0:
		return StateNoKeys
	}
	return StateReady
}
