package events

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"
)

// Header names of the CloudEvents NATS protocol binding.
const (
	// HeaderPrefix starts every CloudEvents attribute header in binary mode.
	HeaderPrefix = "ce-"
	// HeaderContentType carries datacontenttype in binary mode and the
	// event format in structured mode.
	HeaderContentType = "Content-Type"
	// HeaderMsgID is JetStream's de-duplication header.
	HeaderMsgID = "Nats-Msg-Id"

	structuredPrefix = "application/cloudevents"
	// headerSpecVersion is the specversion header, which the SDK's
	// PrefixedSpecVersionName concatenates on every call.
	headerSpecVersion = HeaderPrefix + "specversion"
)

// ErrNotCloudEvent is returned by [Decode] for a message that carries neither
// a ce-specversion header nor a structured-mode content type.
var ErrNotCloudEvent = errors.New("message is not a CloudEvent")

var (
	ceSpecs = spec.WithPrefix(HeaderPrefix)
	// ceHeaders holds the ce- header of every attribute of every spec
	// version by the attribute's name: PrefixedName would concatenate it
	// for every attribute of every event.
	ceHeaders = headerNames(ceSpecs)
)

func headerNames(specs *spec.Versions) map[string]string {
	names := map[string]string{}
	for _, v := range specs.Versions() {
		for _, a := range v.Attributes() {
			names[a.Name()] = HeaderPrefix + a.Name()
		}
	}
	return names
}

// Encode writes ev as a binary-mode NATS message for subject: data in the
// body, attributes and extensions in percent-encoded ce- headers,
// datacontenttype in Content-Type. Nats-Msg-Id is set to the event id.
func Encode(subject string, ev event.Event) (*nats.Msg, error) {
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	// What binding.Write does for an event in binary mode, without its
	// message wrapper and without copying the data: the message shares
	// the event's data, which neither changes.
	w := &binaryWriter{header: make(nats.Header, 12), values: make([]string, 0, 12), data: ev.Data()}
	c := ev.Context
	if c.GetSpecVersion() == event.CloudEventsVersionV1 {
		w.setV1(c)
	} else {
		for _, a := range ceSpecs.Version(c.GetSpecVersion()).Attributes() {
			if err := w.SetAttribute(a, a.Get(c)); err != nil {
				return nil, fmt.Errorf("encode event %s: %w", ev.ID(), err)
			}
		}
	}
	for name, v := range c.GetExtensions() {
		if err := w.SetExtension(name, v); err != nil {
			return nil, fmt.Errorf("encode event %s: %w", ev.ID(), err)
		}
	}
	w.set(HeaderMsgID, percentEncode(ev.ID())) // header-safe, still one-to-one
	return &nats.Msg{Subject: subject, Header: w.header, Data: w.data}, nil
}

// Decode reads the CloudEvent carried by a NATS message's header and body.
// A Content-Type starting with application/cloudevents selects structured
// mode; a ce-specversion header selects binary mode.
func Decode(header nats.Header, data []byte) (event.Event, error) {
	m := &message{header: header, data: data}
	switch {
	case strings.HasPrefix(strings.ToLower(headerValue(header, HeaderContentType)), structuredPrefix):
		m.encoding = binding.EncodingStructured
	case headerValue(header, headerSpecVersion) == event.CloudEventsVersionV1:
		if ev, ok := decodeV1(header, data); ok {
			return ev, nil
		}
		m.encoding = binding.EncodingBinary
	case headerValue(header, headerSpecVersion) != "":
		m.encoding = binding.EncodingBinary
	default:
		return event.Event{}, ErrNotCloudEvent
	}
	ev, err := binding.ToEvent(context.Background(), m)
	if err != nil {
		return event.Event{}, fmt.Errorf("decode event: %w", err)
	}
	if err := ev.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("decode event: %w", err)
	}
	return *ev, nil
}

// decodeV1 reads a binary-mode 1.0 event as the SDK's reader does through
// message.ReadBinary (TestDecodeAsTheSDKReads), calling the context's
// setters with the header values instead of boxing each into an any for
// the SDK's attribute accessors. ok is false for a message it does not
// read to a valid event; the SDK's reader then reads it, or explains what
// is wrong.
func decodeV1(header nats.Header, data []byte) (ev event.Event, ok bool) {
	ec := &event.EventContextV1{}
	for k, vs := range header {
		if len(vs) == 0 {
			continue
		}
		var err error
		switch {
		case len(k) >= len(HeaderPrefix) && strings.EqualFold(k[:len(HeaderPrefix)], HeaderPrefix):
			v, derr := percentDecode(vs[0])
			if derr != nil {
				return event.Event{}, false
			}
			err = setV1(ec, strings.ToLower(k[len(HeaderPrefix):]), v)
		case strings.EqualFold(k, HeaderContentType):
			err = ec.SetDataContentType(vs[0])
		}
		if err != nil {
			return event.Event{}, false
		}
	}
	ev = event.Event{Context: ec}
	if len(data) > 0 {
		ev.DataEncoded = data
	}
	return ev, ev.Validate() == nil
}

// setV1 sets the attribute or extension name of ec to v.
func setV1(ec *event.EventContextV1, name, v string) error {
	switch name {
	case "specversion":
		return nil // 1.0, or decodeV1 would not run
	case "id":
		return ec.SetID(v)
	case "source":
		return ec.SetSource(v)
	case "type":
		return ec.SetType(v)
	case "subject":
		return ec.SetSubject(v)
	case "dataschema":
		return ec.SetDataSchema(v)
	case "datacontenttype":
		return ec.SetDataContentType(v)
	case "time":
		t, err := types.ToTime(v)
		if err != nil {
			return err
		}
		return ec.SetTime(t)
	}
	return ec.SetExtension(name, v)
}

// message is a binding.Message over a NATS header and body.
type message struct {
	header   nats.Header
	data     []byte
	encoding binding.Encoding
}

func (m *message) ReadEncoding() binding.Encoding { return m.encoding }

func (m *message) ReadStructured(ctx context.Context, w binding.StructuredWriter) error {
	if m.encoding != binding.EncodingStructured {
		return binding.ErrNotStructured
	}
	return w.SetStructuredEvent(ctx, format.JSON, bytes.NewReader(m.data))
}

func (m *message) ReadBinary(ctx context.Context, w binding.BinaryWriter) error {
	if m.encoding != binding.EncodingBinary {
		return binding.ErrNotBinary
	}
	version := ceSpecs.Version(headerValue(m.header, headerSpecVersion))
	if version == nil {
		return fmt.Errorf("unsupported specversion %q", headerValue(m.header, headerSpecVersion))
	}
	for k, vs := range m.header {
		if len(vs) == 0 {
			continue
		}
		var err error
		switch {
		case len(k) >= len(HeaderPrefix) && strings.EqualFold(k[:len(HeaderPrefix)], HeaderPrefix):
			lk := strings.ToLower(k) // k itself when written by Encode
			v, derr := percentDecode(vs[0])
			if derr != nil {
				return fmt.Errorf("header %s: %w", k, derr)
			}
			if attr := version.Attribute(lk); attr != nil {
				err = w.SetAttribute(attr, v)
			} else {
				err = w.SetExtension(strings.TrimPrefix(lk, HeaderPrefix), v)
			}
		case strings.EqualFold(k, HeaderContentType):
			err = w.SetAttribute(version.AttributeFromKind(spec.DataContentType), vs[0])
		}
		if err != nil {
			return fmt.Errorf("header %s: %w", k, err)
		}
	}
	if len(m.data) > 0 {
		// A *bytes.Buffer, not a reader: the SDK's event writer then
		// keeps the message's body as the event's data instead of
		// copying it.
		return w.SetData(bytes.NewBuffer(m.data))
	}
	return nil
}

func (m *message) Finish(error) error { return nil }

// GetAttribute implements binding.MessageMetadataReader.
func (m *message) GetAttribute(k spec.Kind) (spec.Attribute, any) {
	version := ceSpecs.Version(headerValue(m.header, headerSpecVersion))
	if version == nil {
		return nil, nil
	}
	attr := version.AttributeFromKind(k)
	if attr == nil {
		return nil, nil
	}
	name := HeaderPrefix + attr.Name()
	if k == spec.DataContentType {
		name = HeaderContentType
	}
	v := headerValue(m.header, name)
	if v == "" {
		return attr, nil
	}
	if k != spec.DataContentType {
		if d, err := percentDecode(v); err == nil {
			v = d
		}
	}
	return attr, v
}

// GetExtension implements binding.MessageMetadataReader.
func (m *message) GetExtension(name string) any {
	v := headerValue(m.header, HeaderPrefix+name)
	if v == "" {
		return nil
	}
	if d, err := percentDecode(v); err == nil {
		return d
	}
	return v
}

// binaryWriter is a binding.BinaryWriter producing NATS headers and a body.
type binaryWriter struct {
	header nats.Header
	values []string // backs header's values
	data   []byte
}

func (w *binaryWriter) Start(context.Context) error { return nil }
func (w *binaryWriter) End(context.Context) error   { return nil }

func (w *binaryWriter) SetAttribute(attr spec.Attribute, value any) error {
	if value == nil {
		return nil
	}
	if attr.Kind() == spec.DataContentType {
		s, ok := value.(string)
		if !ok {
			s = fmt.Sprint(value)
		}
		w.set(HeaderContentType, s)
		return nil
	}
	s, err := formatValue(value)
	if err != nil {
		return err
	}
	w.set(headerName(attr), percentEncode(s))
	return nil
}

// setV1 writes the attributes of a 1.0 event as the loop over the spec's
// attributes does (a blank string or a zero time is missing), without
// boxing every value into an any on the way.
func (w *binaryWriter) setV1(c event.EventContextReader) {
	for _, a := range [...]struct{ header, value string }{
		{headerSpecVersion, c.GetSpecVersion()},
		{HeaderPrefix + "id", c.GetID()},
		{HeaderPrefix + "source", c.GetSource()},
		{HeaderPrefix + "type", c.GetType()},
		{HeaderPrefix + "dataschema", c.GetDataSchema()},
		{HeaderPrefix + "subject", c.GetSubject()},
	} {
		if a.value != "" {
			w.set(a.header, percentEncode(a.value))
		}
	}
	if ct := c.GetDataContentType(); ct != "" {
		w.set(HeaderContentType, ct)
	}
	if t := c.GetTime(); !t.IsZero() {
		w.set(HeaderPrefix+"time", percentEncode(t.UTC().Format(time.RFC3339Nano)))
	}
}

// headerName is the ce- header of an attribute.
func headerName(attr spec.Attribute) string {
	if name, ok := ceHeaders[attr.Name()]; ok {
		return name
	}
	return HeaderPrefix + attr.Name()
}

// set sets a header to one value. The values share one backing array: a
// message has a dozen headers, and each would otherwise be an allocation.
func (w *binaryWriter) set(name, value string) {
	w.values = append(w.values, value)
	n := len(w.values)
	w.header[name] = w.values[n-1 : n : n]
}

func (w *binaryWriter) SetExtension(name string, value any) error {
	if value == nil {
		return nil
	}
	s, err := formatValue(value)
	if err != nil {
		return err
	}
	w.set(HeaderPrefix+strings.ToLower(name), percentEncode(s))
	return nil
}

func (w *binaryWriter) SetData(r io.Reader) error {
	b, err := io.ReadAll(r)
	w.data = b
	return err
}

func formatValue(v any) (string, error) {
	if t, ok := v.(time.Time); ok {
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	return types.Format(v)
}

// headerValue reads a header case-insensitively: NATS headers keep the case
// they were written with, and senders differ.
func headerValue(h nats.Header, key string) string {
	if v := h.Get(key); v != "" {
		return v
	}
	for k, vs := range h {
		if len(vs) > 0 && strings.EqualFold(k, key) {
			return vs[0]
		}
	}
	return ""
}
