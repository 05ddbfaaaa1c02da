package bus

import (
	"encoding/json"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/sluicehq/sluice/schemas"
)

// importOf returns the import a message belongs to, and its chunk number
// (0 for an event): a chunk's, or an import event's or dead letter's (JSON
// with an "import"). A bucket event has none yet.
func importOf(msg *message.Message) (schemas.Import, int, bool) {
	if msg.Metadata.Get(metaContentType) == contentChunk {
		c, _, err := DecodeChunk(msg)
		if err != nil {
			return schemas.Import{}, 0, false
		}
		return c.Import, c.Number, true
	}
	var v struct {
		Import *schemas.Import `json:"import"`
		Chunk  int             `json:"chunk"`
	}
	if json.Unmarshal(msg.Payload, &v) != nil || v.Import == nil || v.Import.ID == "" {
		return schemas.Import{}, 0, false
	}
	return *v.Import, v.Chunk, true
}

// announce publishes an import event of type typ about msg's import (for
// stage, with the reason), if msg has one. Its Msg-Id names the stage and
// the chunk, so that a message announced twice is stored once.
func announce(pub message.Publisher, stage, typ string, msg *message.Message, reason schemas.Violation) error {
	imp, chunk, ok := importOf(msg)
	if !ok {
		return nil
	}
	token := schemas.TokenFailed
	if typ == schemas.EventWaiting {
		token = schemas.TokenWaiting
	}
	return Publish(pub, schemas.ImportSubject(typ, imp.ID), schemas.MsgID(imp.ID, token+stage, chunk),
		schemas.ImportEvent{Type: typ, Import: imp, Chunk: chunk, Reason: &reason, At: time.Now().UTC()})
}
