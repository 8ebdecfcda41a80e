package contracts_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/gtmhub/gtmhub/contracts"
)

func ExampleValidate() {
	data := []byte(`{
		"email": "ada.lovelace.example.com",
		"first_name": "Ada",
		"signal_score": 140,
		"reasons": ["none"]
	}`)

	err := contracts.Validate(contracts.TypeLeadCaptured, data)

	var verr *contracts.ValidationError
	if errors.As(err, &verr) {
		for _, f := range verr.Fields {
			fmt.Printf("%s: %s\n", f.Pointer, f.Message)
		}
	}
	// Output:
	// /email: is not a valid email: missing @
	// /reasons: is not an allowed property
	// /signal_score: must be at most 100
}

// Decode checks data against its type's schema and returns it decoded, as a
// consumer that reads it as generic JSON (a rules engine) wants it.
func ExampleDecode() {
	doc, err := contracts.Decode(contracts.TypeLeadCaptured, []byte(`{"email": "ada@example.com", "signal_score": 93}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	lead := doc.(map[string]any)
	fmt.Println(lead["email"], lead["signal_score"].(float64) > 90)

	_, err = contracts.Decode(contracts.TypeLeadCaptured, []byte(`{"signal_score": 93}`))
	var verr *contracts.ValidationError
	fmt.Println(errors.As(err, &verr))
	// Output:
	// ada@example.com true
	// true
}

// A ValidationError marshals to a body that can be sent back as is, for
// example with HTTP status 422.
func ExampleValidationError() {
	err := contracts.Validate(contracts.TypeNotificationSent, []byte(`{
		"rule": "high-intent",
		"channel": "sms",
		"outcome": "failed",
		"dedupe_key": "high-intent:ada@example.com:2025-11-20",
		"event_id": "01JD4Z8P5H9K2M4N6Q8R0T2VXZ"
	}`))

	var verr *contracts.ValidationError
	if errors.As(err, &verr) {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(verr); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// {
	//   "event_type": "com.gtmhub.notification.sent",
	//   "fields": [
	//     {
	//       "pointer": "/channel",
	//       "message": "must be one of \"slack\", \"email\", \"hubspot\", \"airtable\""
	//     },
	//     {
	//       "pointer": "/reason",
	//       "message": "is required"
	//     }
	//   ]
	// }
}

func ExampleLookup() {
	e, ok := contracts.Lookup(contracts.TypeLeadCaptured)
	if !ok {
		return
	}
	fmt.Println(e.Stream, e.Subject)
	fmt.Println(e.DataSchema)
	// Output:
	// LEADS gtm.leads.captured.{source}
	// https://schemas.gtmhub.dev/com.gtmhub.lead.captured.v1.json
}

func ExampleCheckPath() {
	fmt.Println(contracts.CheckPath(contracts.TypeContactUpdated, "contact", "signal_score"))
	fmt.Println(contracts.CheckPath(contracts.TypeContactUpdated, "contact", "signal_scor"))
	// Output:
	// <nil>
	// com.gtmhub.contact.updated has no field "signal_scor" in contact; it has company, created_at, domain, email, first_name, fit_score, intent_score, last_name, phone, signal_score, source, status, title, updated_at
}
