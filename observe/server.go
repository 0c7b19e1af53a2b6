package observe

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed ui/index.html
var uiFiles embed.FS

// tokenCookie holds the dashboard's token once a browser has given it.
const tokenCookie = "sluice_ui_token"

// HandlerOptions says what a Handler serves.
type HandlerOptions struct {
	// UI serves the dashboard: / and /api/state.
	UI bool
	// Metrics serves /metrics (Prometheus text format).
	Metrics bool
	// Token, if set, is required on every request: as a bearer token
	// (Authorization: Bearer TOKEN), or once as ?token=TOKEN on a page,
	// which then keeps it in a cookie.
	Token string
	// LogLines is how many log lines /api/state returns (default 200).
	LogLines int
}

// Handler serves the monitor over HTTP:
//
//	/            the dashboard (one page; it polls /api/state)
//	/api/state   the run now, as JSON (State)
//	/metrics     Prometheus metrics
//	/healthz     "ok"
func (m *Monitor) Handler(o HandlerOptions) http.Handler {
	if o.LogLines <= 0 {
		o.LogLines = 200
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	if o.Metrics {
		mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{}))
	}
	if o.UI {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			b, err := uiFiles.ReadFile("ui/index.html")
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:")
			w.Write(b)
		})
		mux.HandleFunc("GET /api/state", func(w http.ResponseWriter, r *http.Request) {
			n := o.LogLines
			if v, err := strconv.Atoi(r.URL.Query().Get("log")); err == nil && v >= 0 {
				n = min(v, 10000)
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			json.NewEncoder(w).Encode(m.State(n))
		})
	}
	if o.Token == "" {
		return mux
	}
	return tokenGate(o.Token, mux)
}

// tokenGate lets through requests that carry the token.
func tokenGate(token string, next http.Handler) http.Handler {
	ok := func(got string) bool { return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query().Get("token"); q != "" && ok(q) {
			// Keep the token in a cookie and drop it from the address bar.
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			u := *r.URL
			qs := u.Query()
			qs.Del("token")
			u.RawQuery = qs.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		if h := r.Header.Get("Authorization"); len(h) > 7 && h[:7] == "Bearer " && ok(h[7:]) {
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(tokenCookie); err == nil && ok(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
		http.Error(w, "sluice: this dashboard needs its token: open it with ?token=TOKEN, or send Authorization: Bearer TOKEN", http.StatusUnauthorized)
	})
}
