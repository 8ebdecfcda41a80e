package bench

import (
	"fmt"
	"net/http"
	"strings"
)

// providers answers like Clearbit's Company API and Hunter's Email Verifier,
// at once and from memory, so that the pipeline measures gtmhub's cost of
// enriching a lead (rate limiters, breakers, credit and cache buckets, the
// HTTP round trips) and not a provider's latency.
func providers() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/companies/find", func(w http.ResponseWriter, r *http.Request) {
		domain := r.URL.Query().Get("domain")
		if domain == "" || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			http.Error(w, `{"error":{"type":"invalid_request"}}`, http.StatusUnprocessableEntity)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name":"Bench %s","domain":%q,"url":"https://%s","category":{"industry":"Software"},`+
			`"metrics":{"employees":250},"geo":{"city":"Paris","country":"France","countryCode":"FR"}}`, domain, domain, domain)
	})
	mux.HandleFunc("GET /v2/email-verifier", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("email") == "" || r.URL.Query().Get("api_key") == "" {
			http.Error(w, `{"errors":[{"id":"wrong_params"}]}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"data":{"status":"valid","result":"deliverable","score":95}}`)
	})
	return mux
}
