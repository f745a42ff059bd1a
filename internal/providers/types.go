package providers

import (
	"time"

	"github.com/google/uuid"
)

// Provider is a provider as callers see it: keys masked, credentials never.
type Provider struct {
	ID          uuid.UUID     `json:"id"`
	Name        string        `json:"name"`
	Type        Type          `json:"type"`
	DisplayName string        `json:"display_name"`
	Enabled     bool          `json:"enabled"`
	Deleted     bool          `json:"deleted"`
	BaseURL     string        `json:"base_url"`
	Settings    *SettingsView `json:"settings"`
	APIKeys     []Key         `json:"api_keys"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	Warnings    []Warning     `json:"warnings,omitempty"` // see BaseURLWarnings
	// State is ready, disabled, deleted or "broken: <why>" (see state).
	State string `json:"state"`
}

// SettingsView is Settings plus whether credentials are stored; the
// credentials themselves are write-only.
type SettingsView struct {
	Settings
	HasCredentials bool `json:"has_credentials"`
}

// Key is a stored API key, masked.
type Key struct {
	ID        uuid.UUID `json:"id"`
	Masked    string    `json:"masked"`
	CreatedAt time.Time `json:"created_at"`
}

// KeyInput is one entry of an api_keys list: {"id": ...} keeps a stored key
// (in a PATCH), {"api_key": ...} adds one.
type KeyInput struct {
	ID     *string `json:"id,omitempty"`
	APIKey *string `json:"api_key,omitempty"`
}

// SettingsInput is the settings object of a create or update request. In an
// update, an absent field keeps its value; "" resets a model to its default
// and clears the region or a credential.
type SettingsInput struct {
	Region          *string `json:"region,omitempty"`
	Model           *string `json:"model,omitempty"`
	SmallFastModel  *string `json:"small_fast_model,omitempty"`
	AccessKey       *string `json:"access_key,omitempty"`
	AccessKeySecret *string `json:"access_key_secret,omitempty"`
}

// Input creates a provider.
type Input struct {
	Name        string         `json:"name"`
	Type        string         `json:"type"`
	DisplayName string         `json:"display_name"`
	Enabled     *bool          `json:"enabled,omitempty"` // default true
	BaseURL     string         `json:"base_url"`
	Settings    *SettingsInput `json:"settings,omitempty"`
	APIKeys     []KeyInput     `json:"api_keys,omitempty"`
}

// Patch changes a provider; absent (nil) fields stay as they are. APIKeys,
// when present, is the complete new key set in order.
type Patch struct {
	Name        *string        `json:"name,omitempty"`
	Type        *string        `json:"type,omitempty"` // only to say it again: type is immutable
	DisplayName *string        `json:"display_name,omitempty"`
	Enabled     *bool          `json:"enabled,omitempty"`
	BaseURL     *string        `json:"base_url,omitempty"`
	Settings    *SettingsInput `json:"settings,omitempty"`
	APIKeys     *[]KeyInput    `json:"api_keys,omitempty"`
}

// Stored is a provider row, deleted or not, with its secrets decrypted: what
// the environment seed compares the environment with.
type Stored struct {
	ID      uuid.UUID
	Deleted bool
	Spec    Spec
}
