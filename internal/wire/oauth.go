package wire

// OAuthError is the OAuth2 / Entra error body; IMDS uses the same two fields.
type OAuthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes,omitempty"`
	Timestamp        string `json:"timestamp,omitempty"`
	TraceID          string `json:"trace_id,omitempty"`
	CorrelationID    string `json:"correlation_id,omitempty"`
}

// TokenResponseV2 is the v2.0 token endpoint's success body.
type TokenResponseV2 struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// TokenResponseV1 is the v1 token endpoint's success body (strings, like Entra's).
type TokenResponseV1 struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    string `json:"expires_in"`
	ExtExpiresIn string `json:"ext_expires_in"`
	ExpiresOn    string `json:"expires_on"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	AccessToken  string `json:"access_token"`
}

// ManagedIdentityToken is the IMDS / App Service token body: every value is
// a string, as the real endpoints send them.
type ManagedIdentityToken struct {
	AccessToken  string `json:"access_token"`
	ClientID     string `json:"client_id"`
	ExpiresIn    string `json:"expires_in"`
	ExpiresOn    string `json:"expires_on"`
	ExtExpiresIn string `json:"ext_expires_in"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	TokenType    string `json:"token_type"`
}

// ResourceNotFound is Entra's description of AADSTS500011 (error
// invalid_resource, status 400): a token was asked for a resource the
// tenant does not know, here one Coffer neither serves nor has registered.
func ResourceNotFound(resource, tenant string) string {
	return "The resource principal named " + resource + " was not found in the tenant named " + tenant +
		". This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant." +
		" You might have sent your authentication request to the wrong tenant."
}
