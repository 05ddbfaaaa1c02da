package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/schemas"
)

// What `sluice replay` reads and writes in the DLQ stream.
//
// It lists two kinds of entry: poison messages (sluice.dlq.poison.<stage>:
// the message a stage gave up on, as it was, with the reason in its
// headers), and dead letters (sluice.dlq.rows.<tenant>.<dataset>: rows
// validate or load rejected). Dead letters are listed, never replayed: their
// rows are wrong, and the partner fixes the file.
//
// Replay publishes a poison message again on the subject its stage consumes,
// with its payload and headers (a chunk's Content-Type; load's attempt count,
// so load looks its earlier outcomes up) but not the poison middleware's nor
// the delivery's, under a new Msg-Id: <original>.replay.<DLQ sequence>.<n>,
// n counting the replays of that entry. The original Msg-Id would be dropped
// as a duplicate within the stream's duplicate window. The message's
// Watermill UUID is the new Msg-Id too: should the replayed message be
// poisoned again, the poison queue publishes it with its UUID as Msg-Id, and
// the first poisoning's would drop it.
//
// A replay is recorded by a marker in the DLQ stream itself
// (schemas.ReplayedSubject: which entry, the n-th time, where, as what), and
// the poison message stays: it is the evidence of what failed and why, and
// the list shows it replayed. A marker needs no bucket of its own (only the
// migration step creates those) and no rights beyond publishing to the DLQ.
// A replayed entry is refused unless forced. The marker is published after
// the message, both with Msg-Ids that depend only on the entry and n: two
// operators replaying one entry at once, or one retrying after a crash
// between the two, publish the same message and marker, which JetStream
// stores once.

// MetaSubject is the metadata key, and so the header, that holds the subject
// a message was consumed from. The poison middleware's topic_poisoned holds
// the consumer's filter (sluice.rows.ready.>), not the subject; with this
// header on a poison message, Replay uses it as it is. Without it, Replay
// finds the subject from the stage and the message (inputSubject).
const MetaSubject = "Sluice-Subject"

// metaReplayOf says which DLQ entry a message is a replay of: a message
// poisoned again after its replay lists it.
const metaReplayOf = "Sluice-Replay-Of"

// The kinds of DLQ entry.
const (
	KindPoison = "poison"
	KindRows   = "rows"
)

// ErrReplayed is the error of a replay of an entry replayed before, unless
// forced.
var ErrReplayed = errors.New("already replayed")

// ErrNotPoison is the error of a replay of what is not a poison message.
var ErrNotPoison = errors.New("not a poison message")

// DLQEntry is one poison message or dead letter of the DLQ stream.
type DLQEntry struct {
	// Seq is its sequence in the DLQ stream: what a replay names.
	Seq uint64
	// Kind is KindPoison or KindRows.
	Kind string
	// Stage gave the message up (poison), or rejected the rows.
	Stage string
	// Import, Tenant and Dataset are the import's, when the message tells.
	Import, Tenant, Dataset string
	// Chunk is the chunk's number, 0 when the message is not a chunk.
	Chunk int
	// Rows is how many rows a dead letter rejects.
	Rows int
	// Reason is why the stage gave the message up, or the rejected rows'
	// rules.
	Reason string
	// Time is when the entry was stored.
	Time time.Time
	// MsgID is the message's Msg-Id when it was poisoned.
	MsgID string
	// Subject is where a replay publishes it ("": not known).
	Subject string
	// ReplayOf is the DLQ entry the poisoned message was a replay of.
	ReplayOf uint64
	// Replays are the entry's replays, in order.
	Replays []schemas.Replayed
}

// Replayed reports whether the entry has been replayed.
func (e *DLQEntry) Replayed() bool { return len(e.Replays) > 0 }

// DLQFilter chooses entries; an empty field matches every entry.
type DLQFilter struct {
	Kind, Stage, Import string
	// Reason matches a reason that contains it, whatever the case.
	Reason string
}

// Match reports whether the filter chooses e.
func (f DLQFilter) Match(e *DLQEntry) bool {
	return (f.Kind == "" || f.Kind == e.Kind) && (f.Stage == "" || f.Stage == e.Stage) &&
		(f.Import == "" || f.Import == e.Import) &&
		(f.Reason == "" || strings.Contains(strings.ToLower(e.Reason), strings.ToLower(f.Reason)))
}

// DLQ reads the DLQ stream's entries and replays its poison messages.
type DLQ struct {
	js nats.JetStreamContext
	// wait bounds the wait for each next message while listing.
	wait time.Duration
}

// NewDLQ returns the DLQ stream of the NATS server nc is connected to.
func NewDLQ(nc *nats.Conn) (*DLQ, error) {
	js, err := nc.JetStream()
	if err != nil {
		return nil, fmt.Errorf("bus: dlq: %w", err)
	}
	return &DLQ{js: js, wait: 10 * time.Second}, nil
}

// List returns the entries the filter chooses, in stream order, each with
// its replays.
func (d *DLQ) List(ctx context.Context, f DLQFilter) ([]DLQEntry, error) {
	var entries []DLQEntry
	replays := map[uint64][]schemas.Replayed{}
	err := d.each(ctx, func(m *nats.Msg, seq uint64, at time.Time) error {
		if strings.HasPrefix(m.Subject, "sluice.dlq.replayed.") {
			var r schemas.Replayed
			if err := json.Unmarshal(m.Data, &r); err != nil {
				return fmt.Errorf("bus: dlq: replay record %d: %w", seq, err)
			}
			replays[r.Seq] = append(replays[r.Seq], r)
			return nil
		}
		e, ok := entryOf(m.Subject, m.Header, m.Data, seq, at)
		if ok {
			entries = append(entries, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := entries[:0]
	for _, e := range entries {
		e.Replays = replays[e.Seq]
		if f.Match(&e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// each calls fn for every message of the DLQ stream there is when it starts,
// in order, through an ordered consumer (no durable state on the server).
func (d *DLQ) each(ctx context.Context, fn func(m *nats.Msg, seq uint64, at time.Time) error) error {
	sub, err := d.js.SubscribeSync(schemas.SubjectDLQAll, nats.BindStream(schemas.StreamDLQ), nats.OrderedConsumer(), nats.DeliverAll())
	if err != nil {
		return fmt.Errorf("bus: dlq: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	ci, err := sub.ConsumerInfo()
	if err != nil {
		return fmt.Errorf("bus: dlq: %w", err)
	}
	if ci.NumPending+ci.Delivered.Consumer == 0 {
		return nil // empty
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := sub.NextMsg(d.wait)
		if err != nil {
			return fmt.Errorf("bus: dlq: read: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("bus: dlq: %w", err)
		}
		if err := fn(m, md.Sequence.Stream, md.Timestamp); err != nil {
			return err
		}
		if md.NumPending == 0 {
			return nil
		}
	}
}

// Entry returns the entry at seq, with its replays.
func (d *DLQ) Entry(seq uint64) (DLQEntry, error) {
	raw, err := d.js.GetMsg(schemas.StreamDLQ, seq)
	if err != nil {
		return DLQEntry{}, fmt.Errorf("bus: dlq: entry %d: %w", seq, err)
	}
	e, ok := entryOf(raw.Subject, raw.Header, raw.Data, seq, raw.Time)
	if !ok {
		return DLQEntry{}, fmt.Errorf("bus: dlq: %d is %s, not an entry", seq, raw.Subject)
	}
	last, err := d.js.GetLastMsg(schemas.StreamDLQ, schemas.ReplayedSubject(seq))
	switch {
	case errors.Is(err, nats.ErrMsgNotFound):
	case err != nil:
		return DLQEntry{}, fmt.Errorf("bus: dlq: replays of %d: %w", seq, err)
	default:
		var r schemas.Replayed
		if err := json.Unmarshal(last.Data, &r); err != nil {
			return DLQEntry{}, fmt.Errorf("bus: dlq: replay record of %d: %w", seq, err)
		}
		// The last record is all Replay needs: its n counts the others.
		e.Replays = []schemas.Replayed{r}
	}
	return e, nil
}

// Replay publishes the poison message at seq again into its stage, and
// records it. An entry replayed before is refused with ErrReplayed unless
// force, which replays it once more under a new Msg-Id.
func (d *DLQ) Replay(ctx context.Context, seq uint64, force bool) (schemas.Replayed, error) {
	e, err := d.Entry(seq)
	if err != nil {
		return schemas.Replayed{}, err
	}
	if e.Kind != KindPoison {
		return schemas.Replayed{}, fmt.Errorf("bus: dlq: replay %d: %w (dead letters are fixed by a new file)", seq, ErrNotPoison)
	}
	n := 1
	if e.Replayed() {
		last := e.Replays[len(e.Replays)-1]
		if !force {
			return last, fmt.Errorf("bus: dlq: replay %d: %w (%d times, last to %s as %s)", seq, ErrReplayed, last.N, last.Subject, last.MsgID)
		}
		n = last.N + 1
	}
	if e.Subject == "" {
		return schemas.Replayed{}, fmt.Errorf("bus: dlq: replay %d: no subject of stage %q known for it", seq, e.Stage)
	}
	raw, err := d.js.GetMsg(schemas.StreamDLQ, seq)
	if err != nil {
		return schemas.Replayed{}, fmt.Errorf("bus: dlq: entry %d: %w", seq, err)
	}
	r := schemas.Replayed{Seq: seq, N: n, Subject: e.Subject, MsgID: fmt.Sprintf("%s.replay.%d.%d", e.MsgID, seq, n), At: time.Now().UTC()}
	msg := nats.NewMsg(r.Subject)
	msg.Data = raw.Data
	for k, v := range raw.Header {
		if !slices.Contains(droppedOnReplay, k) {
			msg.Header[k] = v
		}
	}
	msg.Header.Set(nats.MsgIdHdr, r.MsgID)
	msg.Header.Set(wmnats.WatermillUUIDHdr, r.MsgID)
	msg.Header.Set(metaReplayOf, strconv.FormatUint(seq, 10))
	if _, err := d.js.PublishMsg(msg, nats.Context(ctx)); err != nil {
		return schemas.Replayed{}, fmt.Errorf("bus: dlq: replay %d to %s: %w", seq, r.Subject, err)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return schemas.Replayed{}, fmt.Errorf("bus: dlq: replay %d: %w", seq, err)
	}
	rec := nats.NewMsg(schemas.ReplayedSubject(seq))
	rec.Data = data
	rec.Header.Set(nats.MsgIdHdr, "replayed."+strconv.FormatUint(seq, 10)+"."+strconv.Itoa(n))
	if _, err := d.js.PublishMsg(rec, nats.Context(ctx)); err != nil {
		return r, fmt.Errorf("bus: dlq: record replay %d (published to %s as %s; a replay with force is safe within %s): %w",
			seq, r.Subject, r.MsgID, DuplicateWindow, err)
	}
	return r, nil
}

// droppedOnReplay are the headers a replay does not carry over: the poison
// middleware's, those of the delivery that failed, and the Msg-Id and UUID,
// which it sets anew.
var droppedOnReplay = []string{
	middleware.ReasonForPoisonedKey, middleware.PoisonedTopicKey, middleware.PoisonedHandlerKey, middleware.PoisonedSubscriberKey,
	metaReply, MetaDelivered, MetaSubject, metaReplayOf,
	nats.MsgIdHdr, wmnats.WatermillUUIDHdr,
}

// entryOf reads a DLQ message: a poison message or a dead letter (ok), or
// something else (a replay record).
func entryOf(subject string, hdr nats.Header, data []byte, seq uint64, at time.Time) (DLQEntry, bool) {
	e := DLQEntry{Seq: seq, Time: at.UTC(), MsgID: hdr.Get(wmnats.WatermillUUIDHdr)}
	if e.MsgID == "" {
		e.MsgID = hdr.Get(nats.MsgIdHdr)
	}
	if e.MsgID == "" {
		e.MsgID = fmt.Sprintf("%s.%d", schemas.StreamDLQ, seq)
	}
	switch {
	case strings.HasPrefix(subject, "sluice.dlq.poison."):
		e.Kind, e.Stage = KindPoison, strings.TrimPrefix(subject, "sluice.dlq.poison.")
		e.Reason = hdr.Get(middleware.ReasonForPoisonedKey)
		e.ReplayOf, _ = strconv.ParseUint(hdr.Get(metaReplayOf), 10, 64)
		poisoned(&e, hdr, data)
		return e, true
	case strings.HasPrefix(subject, "sluice.dlq.rows."):
		e.Kind = KindRows
		deadLetter(&e, data)
		return e, true
	}
	return DLQEntry{}, false
}

// poisoned fills in what a poison message tells of its import, and the
// subject its stage consumed it from: the message's Sluice-Subject header,
// else the poison middleware's topic when it is a subject and not a filter,
// else the subject the stage before published it on, found from its
// contents.
func poisoned(e *DLQEntry, hdr nats.Header, data []byte) {
	var subject string
	if hdr.Get(metaContentType) == contentChunk {
		msg := message.NewMessage(e.MsgID, data)
		msg.Metadata.Set(metaContentType, contentChunk)
		if c, _, err := DecodeChunk(msg); err == nil {
			e.Import, e.Tenant, e.Dataset, e.Chunk = c.Import.ID, c.Import.Tenant, c.Import.Dataset, c.Number
			subject = chunkSubject(e.Stage, e.Tenant, e.Dataset)
		}
	} else {
		subject = eventSubject(e, data)
	}
	switch topic := hdr.Get(middleware.PoisonedTopicKey); {
	case hdr.Get(MetaSubject) != "":
		e.Subject = hdr.Get(MetaSubject)
	case topic != "" && !strings.ContainsAny(topic, "*>"):
		e.Subject = topic
	default:
		e.Subject = subject
	}
}

// chunkSubject is the subject a stage consumes a tenant's chunks of a
// dataset from.
func chunkSubject(stage, tenant, dataset string) string {
	if tenant == "" || dataset == "" {
		return ""
	}
	switch stage {
	case schemas.StageValidate:
		return schemas.RawRowsSubject(tenant, dataset)
	case schemas.StageTransform:
		return schemas.ValidRowsSubject(tenant, dataset)
	case schemas.StageLoad:
		return schemas.ReadyRowsSubject(tenant, dataset)
	}
	return ""
}

// eventSubject reads a JSON message a stage gave up on: a bucket event
// (ingest) or an import event (notify). It fills in the import it names and
// returns the subject it came on ("" if it does not tell).
func eventSubject(e *DLQEntry, data []byte) string {
	switch e.Stage {
	case schemas.StageIngest:
		var ev schemas.BucketEvent
		if json.Unmarshal(data, &ev) == nil && len(ev.Records) > 0 {
			key, err := url.QueryUnescape(ev.Records[0].S3.Object.Key)
			if err == nil {
				if parts := strings.SplitN(key, "/", 3); len(parts) == 3 {
					e.Tenant, e.Dataset = parts[0], parts[1]
				}
			}
		}
		return schemas.SubjectS3Events
	case schemas.StageNotify:
		var ev schemas.ImportEvent
		if json.Unmarshal(data, &ev) != nil || ev.Type == "" || ev.Import.ID == "" {
			return ""
		}
		e.Import, e.Tenant, e.Dataset, e.Chunk = ev.Import.ID, ev.Import.Tenant, ev.Import.Dataset, ev.Chunk
		return schemas.ImportSubject(ev.Type, ev.Import.ID)
	}
	return ""
}

// deadLetter fills in a dead letter's import, chunk, stage (from its
// Msg-Id's token) and the rules its rows break.
func deadLetter(e *DLQEntry, data []byte) {
	var d schemas.DLQRows
	if err := json.Unmarshal(data, &d); err != nil {
		e.Reason = "undecodable dead letter: " + err.Error()
		return
	}
	e.Import, e.Tenant, e.Dataset, e.Chunk, e.Rows = d.Import.ID, d.Import.Tenant, d.Import.Dataset, d.Chunk, len(d.Rejected)
	switch {
	case strings.Contains(e.MsgID, "."+schemas.TokenValidateDLQ+"."):
		e.Stage = schemas.StageValidate
	case strings.Contains(e.MsgID, "."+schemas.TokenLoadDLQ+"."):
		e.Stage = schemas.StageLoad
	}
	var rules []string
	for _, r := range d.Rejected {
		for _, v := range r.Violations {
			if rule := v.Column + ":" + v.Code; !slices.Contains(rules, rule) {
				rules = append(rules, rule)
			}
		}
	}
	e.Reason = fmt.Sprintf("%d rows rejected: %s", len(d.Rejected), strings.Join(rules, ", "))
}
