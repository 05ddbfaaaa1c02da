package bus

import (
	"encoding/json"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// MaxDeadLetterBytes bounds one dead-letter message, far under JetStream's
// max payload: a chunk's rejected rows are sent in as many messages as
// their reasons need (a row whose every cell breaks a rule carries a reason
// per cell).
const MaxDeadLetterBytes = 1 << 20

// PublishDeadLetters sends the rejected rows of an import's chunk to the
// dead-letter stream (sluice.dlq.rows.<tenant>.<dataset>), in parts of at
// most MaxDeadLetterBytes. token names the stage that rejected them; a
// part's Msg-Id names the token, the part and the chunk, so that a retried
// publish stores each part once. Once they are sent, it counts the rules
// they broke in m's Rejections.
func PublishDeadLetters(pub message.Publisher, m *platform.Metrics, token string, imp schemas.Import, chunk int, rejected []schemas.Rejected) error {
	subject := schemas.DLQRowsSubject(imp.Tenant, imp.Dataset)
	part, start, size := 0, 0, 0
	send := func(end int) error {
		id := token
		if part > 0 {
			id = fmt.Sprintf("%s-%d", token, part)
		}
		part++
		return Publish(pub, subject, schemas.MsgID(imp.ID, id, chunk),
			schemas.DLQRows{Import: imp, Chunk: chunk, Part: part - 1, Rejected: rejected[start:end]})
	}
	for i, r := range rejected {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("bus: dead letter of row %d: %w", r.N, err)
		}
		if i > start && size+len(b) > MaxDeadLetterBytes-64<<10 { // room for the import and the envelope
			if err := send(i); err != nil {
				return err
			}
			start, size = i, 0
		}
		size += len(b) + 1
	}
	if start < len(rejected) {
		if err := send(len(rejected)); err != nil {
			return err
		}
	}
	m.CountRejections(imp.Tenant, rejected)
	return nil
}
