// Package dashboard is the web dashboard served at / by `aigate server`:
// server-rendered pages over the admin API, the session cookie that signs a
// browser in, CSRF protection for its forms, and its embedded assets.
//
// # Every page is an API client
//
// The dashboard reads and changes nothing itself. Each page calls the admin
// API in this process (api.API.Handler through client.NewInProcess) with the
// session's token, so a page shows exactly what the API answers, under the
// API's access rules, validation and audit: a member's page can show no more
// than the member's API calls return. The dashboard's own role checks only
// choose what to offer (navigation, buttons) and answer an admin page's URL
// with 403 before calling anything.
//
//	browser ──cookie──▶ dashboard page ──Bearer <session token>──▶ api.Handler ──▶ domain packages
//	        ◀──HTML────                 ◀──JSON (client types)───
//
// # Sessions
//
// Signing in is POST /api/v1/login: the session is the login token it makes
// (scope api, 30 days), kept in an HttpOnly, SameSite=Lax cookie, Secure and
// __Host- prefixed when the browser reached aigate over HTTPS. Because a
// session is a token, everything that ends a token ends a session on every
// replica: suspending or deleting the user, revoking the token, its expiry
// (the auth cache drops them on the aigate_auth_changed notification).
// Signing out revokes the token.
//
//	GET /signin ─▶ form (+ pre-session CSRF cookie)
//	POST /signin ─▶ CSRF ok? ─▶ POST /api/v1/login ─▶ Set-Cookie session ─▶ 303 next
//	GET /page ─▶ cookie ─▶ GET /api/v1/users/me ─┬─ 200: render
//	                                             └─ 401: clear cookie ─▶ 303 /signin?next=/page
//	POST /signout ─▶ DELETE /api/v1/users/me/tokens/{id} ─▶ clear cookie
//
// # CSRF
//
// Every POST is refused unless its csrf form field matches: for a signed-in
// browser, an HMAC of the session token (a cross-site page can neither read
// the cookie nor compute it); before sign-in, a random value also held in an
// HttpOnly cookie (double submit). A POST whose Origin or Sec-Fetch-Site
// says it came from another site is refused first. No page runs inline
// script, so the Content-Security-Policy allows scripts from 'self' only.
package dashboard
