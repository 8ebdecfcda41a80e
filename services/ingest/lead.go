package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gtmhub/gtmhub/contracts"
	"github.com/gtmhub/gtmhub/services/ingest/internal/payload"
)

// acceptLead maps a lead source's body onto a lead and publishes it.
func (h *handler) acceptLead(r *http.Request, src *source, body []byte, id string) (accepted, error) {
	fields, err := payload.Decode(r.Header.Get("Content-Type"), body)
	switch {
	case errors.Is(err, payload.ErrUnsupportedMediaType):
		return accepted{}, &apiError{Status: http.StatusUnsupportedMediaType, Message: err.Error()}
	case err != nil:
		return accepted{}, &apiError{Status: http.StatusBadRequest, Message: err.Error()}
	}
	data, err := buildLead(src, fields)
	if err != nil {
		return accepted{}, err
	}
	return h.publish(r.Context(), src.leadSubject(), newEvent(id, contracts.TypeLeadCaptured, src, data))
}

// buildLead maps fields onto a lead and validates it against its contract,
// returning the event data or a 422 listing every problem.
func buildLead(src *source, fields payload.Fields) ([]byte, error) {
	lead, problems := src.mapper.Map(fields, src.Name)
	data, err := json.Marshal(lead)
	if err != nil {
		return nil, fmt.Errorf("marshal lead: %w", err)
	}
	err = contracts.Validate(contracts.TypeLeadCaptured, data)
	var verr *contracts.ValidationError
	switch {
	case errors.As(err, &verr):
		problems = mergeFields(problems, verr.Fields, src.mapper)
	case err != nil:
		return nil, fmt.Errorf("validate lead: %w", err)
	}
	if len(problems) > 0 {
		return nil, &apiError{Status: http.StatusUnprocessableEntity, Fields: problems,
			Message: fmt.Sprintf("the lead does not satisfy the %s contract", contracts.TypeLeadCaptured)}
	}
	return data, nil
}

// mergeFields adds the schema's findings to the mapper's, keeping the
// mapper's where both speak of the same field (a value that could not be
// converted is also missing), and names the sender's field where a mapping
// renamed it.
func mergeFields(mapped, schema []contracts.FieldError, m *payload.LeadMapper) []contracts.FieldError {
	out := slices.Clone(mapped)
	for _, f := range schema {
		if slices.ContainsFunc(mapped, func(g contracts.FieldError) bool { return g.Pointer == f.Pointer }) {
			continue
		}
		field, _, _ := strings.Cut(strings.TrimPrefix(f.Pointer, "/"), "/")
		if from := m.From(field); from != "" {
			f.Message += " (from " + from + ")"
		}
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b contracts.FieldError) int { return strings.Compare(a.Pointer, b.Pointer) })
	return out
}
