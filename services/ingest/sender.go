package ingest

import (
	"encoding/json"
	"net/http"
	"strings"
)

// sender is what a scheme tells about its sender beyond the signature:
// where it puts its delivery id and event type, and the handshake requests
// it sends that are answered without publishing anything.
type sender struct {
	// deliveryIDHeader and deliveryIDField are where the sender puts the id
	// it gives each delivery and keeps across its retries. Read before any
	// generic delivery id header, which a proxy or an attacker may add.
	deliveryIDHeader string
	deliveryIDField  string
	typeHeader       string
	typeField        string
	handshake        func(header http.Header, body []byte) (handshake, bool)
}

// namesDeliveries reports whether the sender gives each delivery an id.
func (s sender) namesDeliveries() bool {
	return s.deliveryIDHeader != "" || s.deliveryIDField != ""
}

// handshake is the answer to a sender's handshake request.
type handshake struct {
	Handshake string `json:"handshake"`
	Challenge string `json:"challenge,omitempty"`
}

// senderOf returns the sender conventions of scheme.
func senderOf(scheme string) sender {
	switch scheme {
	case "slack":
		return sender{deliveryIDField: "event_id", typeField: "event.type", handshake: slackURLVerification}
	case "github":
		return sender{deliveryIDHeader: "X-GitHub-Delivery", typeHeader: "X-GitHub-Event", handshake: githubPing}
	case "hubspot-v3":
		return sender{deliveryIDField: "eventId", typeField: "subscriptionType"}
	case "stripe", "notion":
		return sender{deliveryIDField: "id"}
	case "standard-webhooks":
		// webhook-id is signed with the body.
		return sender{deliveryIDHeader: "Webhook-Id", handshake: standardWebhooksTest}
	}
	return sender{}
}

// slackURLVerification answers the url_verification request Slack sends
// when an Events API request URL is saved: the challenge, echoed.
func slackURLVerification(_ http.Header, body []byte) (handshake, bool) {
	var v struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if json.Unmarshal(body, &v) != nil || v.Type != "url_verification" || v.Challenge == "" {
		return handshake{}, false
	}
	return handshake{Handshake: "url_verification", Challenge: v.Challenge}, true
}

// githubPing answers the ping GitHub sends when a webhook is created.
func githubPing(header http.Header, _ []byte) (handshake, bool) {
	if !strings.EqualFold(header.Get("X-GitHub-Event"), "ping") {
		return handshake{}, false
	}
	return handshake{Handshake: "ping"}, true
}

// standardWebhooksTest answers the test events that Standard Webhooks
// senders offer from their dashboards (types such as "webhook.test" or
// "endpoint.ping"): they prove the endpoint verifies, and carry no data.
func standardWebhooksTest(_ http.Header, body []byte) (handshake, bool) {
	var v struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &v) != nil {
		return handshake{}, false
	}
	last := v.Type[strings.LastIndexByte(v.Type, '.')+1:]
	if last != "test" && last != "ping" {
		return handshake{}, false
	}
	return handshake{Handshake: v.Type}, true
}
