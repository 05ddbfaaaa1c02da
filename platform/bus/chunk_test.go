package bus

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/sluicehq/sluice/schemas"
)

// capture is a publisher that keeps what it is given.
type capture struct{ msgs []*message.Message }

func (c *capture) Publish(_ string, msgs ...*message.Message) error {
	c.msgs = append(c.msgs, msgs...)
	return nil
}
func (c *capture) Close() error { return nil }

func TestChunkRoundTrip(t *testing.T) {
	imp := schemas.Import{ID: "imp1", Tenant: "acme", Dataset: "clients", Version: 7}
	tests := []struct {
		name  string
		chunk schemas.Chunk
	}{
		{"no rows, only rejections", schemas.Chunk{Import: imp, Number: 3, FirstRow: 10,
			Rejected: []schemas.Rejected{{N: 10, Violations: []schemas.Violation{{Column: "email", Code: "format", Message: "m", Value: "x"}}}}}},
		{"rows of every kind", schemas.Chunk{Import: imp, Number: 1, FirstRow: 2, Rows: []schemas.Row{
			{N: 2, Cells: []string{"a", "", "Müller, \"Hans\"\nline two"}},
			{N: 4, Cells: []string{"", "日本", ""}, Duplicates: []schemas.Duplicate{{Field: 1, Of: 2}}, Empty: 5, InFile: 2},
			{N: 5, Cells: []string{"", "", ""}, Problem: &schemas.Violation{Code: schemas.CodeMalformed, Message: "bad quote"}},
			{N: 6, Cells: []string{"not UTF-8: \xff\xfe", "", "x"}}, // validate's to reject
			{N: 7, Cells: []string{"a", "b", "c"}, Item: 3, Dropped: []schemas.Violation{{Column: "Email (2)", Code: "format", Message: "m", Value: "x@"}}},
		}, Rejected: []schemas.Rejected{{N: 3, Violations: []schemas.Violation{{Column: "ID", Code: "format"}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pub capture
			if err := PublishChunk(&pub, "s", "id", &tt.chunk); err != nil {
				t.Fatal(err)
			}
			got, _, err := DecodeChunk(pub.msgs[0])
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.chunk) {
				t.Errorf("round trip:\n got %+v\nwant %+v", *got, tt.chunk)
			}
		})
	}
}

func TestChunkWireErrors(t *testing.T) {
	uneven := schemas.Chunk{Rows: []schemas.Row{{N: 2, Cells: []string{"a", "b"}}, {N: 3, Cells: []string{"a"}}}}
	if err := PublishChunk(&capture{}, "s", "id", &uneven); err == nil {
		t.Error("rows of different widths: got no error")
	}
	w, err := toWire(&schemas.Chunk{Rows: []schemas.Row{{N: 2, Cells: []string{"ab", "c"}}}})
	if err != nil {
		t.Fatal(err)
	}
	w.Lens[0] = 9 // more bytes than the column has
	if _, err := fromWire(w); !errors.Is(err, errBadChunk) {
		t.Errorf("lengths past the column: got %v, want errBadChunk", err)
	}
	if _, _, err := DecodeChunk(message.NewMessage("x", []byte(`{}`))); err == nil {
		t.Error("a JSON message decoded as a chunk")
	}
}

// benchChunk is a chunk as load receives it from the bench's clients file.
func benchChunk() *schemas.Chunk {
	c := &schemas.Chunk{Import: schemas.Import{ID: "0b6f6d9e-4f3e-4f7c-9a55-6b2a7c3d9e10", Tenant: "bench", Dataset: "clients"}, Number: 7, FirstRow: 30002}
	for i := range 5000 {
		n := c.FirstRow + i
		c.Rows = append(c.Rows, schemas.Row{N: n, Cells: []string{
			fmt.Sprintf("%024x", n), fmt.Sprintf("First%d", n%9973), fmt.Sprintf("Last%d", n%7919), fmt.Sprintf("user%d@bench.example", n),
			fmt.Sprintf("%024x", n%97), fmt.Sprintf("%024x", n%89), "1", "Partner", "2024-03-04 05:06:00",
		}})
	}
	return c
}

func BenchmarkPublishChunk(b *testing.B) {
	c := benchChunk()
	b.ReportAllocs()
	for b.Loop() {
		if err := PublishChunk(&capture{}, "s", "id", c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeChunk(b *testing.B) {
	var pub capture
	if err := PublishChunk(&pub, "s", "id", benchChunk()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(pub.msgs[0].Payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeChunk(pub.msgs[0]); err != nil {
			b.Fatal(err)
		}
	}
}
