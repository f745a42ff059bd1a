package providerenv_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigate/aigate/internal/providerenv"
	"github.com/aigate/aigate/internal/providers"
)

// The startup error and `aigate providers plan` explain a conflict in the
// same words: both print Step.ConflictText.
func TestConflictText(t *testing.T) {
	t.Parallel()
	env := providers.Spec{Name: "br", Type: providers.Bedrock, BaseURL: "https://bedrock.example/a b/",
		Settings: &providers.Settings{Region: "eu-west-1"}}
	stored := providers.Spec{Name: "br", Type: providers.Bedrock, BaseURL: "https://bedrock.example/",
		Settings: &providers.Settings{Region: "us-east-1"}}
	moved := providerenv.Step{
		Provider: providerenv.Provider{Spec: env, Source: "AIGATE_BEDROCK_*"},
		Outcome:  providerenv.Conflict,
		Diffs:    stored.Canonical().Diff(env.Canonical()),
	}
	retyped := providerenv.Step{
		Provider: providerenv.Provider{Spec: providers.Spec{Name: "oa", Type: providers.OpenAI}, Source: "AIGATE_PROVIDER_3_*"},
		Outcome:  providerenv.Conflict,
		Diffs:    []providers.FieldDiff{{Field: "type", From: "anthropic", To: "openai"}},
	}

	require.Equal(t, `provider "br" (from AIGATE_BEDROCK_*): the database and the environment disagree on where its requests go:
  base_url: database "https://bedrock.example/", environment "https://bedrock.example/a b/"
  region: database "us-east-1", environment "eu-west-1"
  fix it one of three ways:
  - make the database match the environment: aigate providers edit br --base-url 'https://bedrock.example/a b/' --region eu-west-1
  - stop seeding it: remove the AIGATE_BEDROCK_* variables (the database keeps the provider as it is)
  - stop serving it: aigate providers delete br (a deleted provider is never seeded again)`, moved.ConflictText())

	err := &providerenv.DriftError{Steps: []providerenv.Step{moved, retyped}}
	require.Equal(t, `the AI providers in the environment differ from the database; aigate will not guess which is right:
  provider "br" (from AIGATE_BEDROCK_*): the database and the environment disagree on where its requests go:
    base_url: database "https://bedrock.example/", environment "https://bedrock.example/a b/"
    region: database "us-east-1", environment "eu-west-1"
    fix it one of three ways:
    - make the database match the environment: aigate providers edit br --base-url 'https://bedrock.example/a b/' --region eu-west-1
    - stop seeding it: remove the AIGATE_BEDROCK_* variables (the database keeps the provider as it is)
    - stop serving it: aigate providers delete br (a deleted provider is never seeded again)
  provider "oa" (from AIGATE_PROVIDER_3_*): the database and the environment disagree on where its requests go:
    type: database "anthropic", environment "openai"
    fix it one of three ways:
    - the type of a stored provider cannot be edited; use one of the fixes below
    - stop seeding it: remove the AIGATE_PROVIDER_3_* variables (the database keeps the provider as it is)
    - stop serving it: aigate providers delete oa (a deleted provider is never seeded again)
  `+"`aigate providers plan`"+` shows the same check without starting the server`, err.Error())
}
