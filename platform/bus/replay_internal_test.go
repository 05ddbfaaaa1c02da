package bus

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/schemas"
)

// TestPoisonSubject: the subject a poison message is replayed on is its
// Sluice-Subject header, else the poison middleware's topic when it is a
// subject, else the one its stage consumes it from, found from its
// contents.
func TestPoisonSubject(t *testing.T) {
	imp := schemas.Import{ID: "imp1", Tenant: "acme", Dataset: "clients"}
	chunk := func() (nats.Header, []byte) {
		pub := &capture{}
		if err := PublishChunk(pub, "x", "id", &schemas.Chunk{Import: imp, Number: 3}); err != nil {
			t.Fatal(err)
		}
		h := nats.Header{}
		for k, v := range pub.msgs[0].Metadata {
			h.Set(k, v)
		}
		return h, pub.msgs[0].Payload
	}
	event, _ := json.Marshal(schemas.ImportEvent{Type: schemas.EventProgress, Import: imp, Chunk: 3})
	s3event := []byte(`{"Records":[{"s3":{"object":{"key":"acme%2Fclients%2Ff.csv"}}}]}`)
	cases := []struct {
		name, stage      string
		header           map[string]string
		chunk            bool
		data             []byte
		subject          string
		wantImport, tset string
	}{
		{name: "load chunk, filter topic", stage: schemas.StageLoad, chunk: true,
			header:  map[string]string{middleware.PoisonedTopicKey: schemas.SubjectReadyRows},
			subject: schemas.ReadyRowsSubject("acme", "clients"), wantImport: "imp1", tset: "acme/clients"},
		{name: "validate chunk", stage: schemas.StageValidate, chunk: true,
			subject: schemas.RawRowsSubject("acme", "clients"), wantImport: "imp1", tset: "acme/clients"},
		{name: "transform chunk", stage: schemas.StageTransform, chunk: true,
			subject: schemas.ValidRowsSubject("acme", "clients"), wantImport: "imp1", tset: "acme/clients"},
		{name: "subject header wins", stage: schemas.StageLoad, chunk: true,
			header:  map[string]string{MetaSubject: "sluice.rows.ready.acme.clients.v2", middleware.PoisonedTopicKey: "sluice.rows.ready.x"},
			subject: "sluice.rows.ready.acme.clients.v2", wantImport: "imp1", tset: "acme/clients"},
		{name: "topic that is a subject", stage: schemas.StageIngest, data: s3event,
			header:  map[string]string{middleware.PoisonedTopicKey: "sluice.s3.events.eu"},
			subject: "sluice.s3.events.eu", tset: "acme/clients"},
		{name: "bucket event", stage: schemas.StageIngest, data: s3event, subject: schemas.SubjectS3Events, tset: "acme/clients"},
		{name: "import event", stage: schemas.StageNotify, data: event,
			header:  map[string]string{middleware.PoisonedTopicKey: schemas.SubjectImportsAll},
			subject: schemas.ImportSubject(schemas.EventProgress, "imp1"), wantImport: "imp1", tset: "acme/clients"},
		{name: "undecodable import event", stage: schemas.StageNotify, data: []byte("{"), subject: "", tset: "/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, data := nats.Header{}, tc.data
			if tc.chunk {
				h, data = chunk()
			}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			e, ok := entryOf(schemas.PoisonSubject(tc.stage), h, data, 7, time.Now())
			if !ok || e.Kind != KindPoison || e.Stage != tc.stage {
				t.Fatalf("got %+v %v, want a poison entry of %s", e, ok, tc.stage)
			}
			if e.Subject != tc.subject || e.Import != tc.wantImport || e.Tenant+"/"+e.Dataset != tc.tset {
				t.Errorf("got subject %q import %q %s/%s, want %q %q %s", e.Subject, e.Import, e.Tenant, e.Dataset, tc.subject, tc.wantImport, tc.tset)
			}
		})
	}
}
