package contracts

import (
	"path"
	"strings"
)

// maxTokenLen is the longest token the token schema accepts.
const maxTokenLen = 64

// Token reduces s to a token as the catalog's token schema defines it (a
// source name, a webhook type, a NATS subject token): lowercase, with every
// character outside [a-z0-9_-] replaced by '_' (contact.creation becomes
// contact_creation) and at most 64 bytes. It returns "" when s has no
// letter or digit.
func Token(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	var b strings.Builder
	useful := false
	for _, r := range s {
		if b.Len() >= maxTokenLen {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			useful = true
			b.WriteRune(r)
		case r == '-' || r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if !useful {
		return ""
	}
	return b.String()
}

// SourceToken names the source of an event whose data does not: the last
// element of its CloudEvent source as a [Token] ("/crm/import" gives
// "import"), or "" when that has no letter or digit. Ingest routes such an
// event on this token and enrich takes it as the lead's source, so the two
// agree.
func SourceToken(ceSource string) string {
	return Token(path.Base(strings.TrimRight(ceSource, "/")))
}
