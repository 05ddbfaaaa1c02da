package platform

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/nats-io/nats.go"
)

// Errors are transient or permanent, and this is the one place that says
// which. A transient error comes from a part that is down, slow or
// overloaded (ClickHouse, NATS, MinIO, SMTP): trying again later can succeed,
// so its message waits and is tried again, for as long as the outage lasts
// up to the stage's horizon, and never goes to the poison subject. A
// permanent error is one that trying again cannot mend: a message that does
// not decode or breaks the contract, a handler that panics. Its message goes
// to the poison subject with the reason.
//
// A stage marks what it knows (Transient, Permanent); IsTransient also
// recognises the errors the clients of the parts return when a part is
// away: refused, reset and timed-out connections, ClickHouse's overload
// exceptions, NATS's timeouts and disconnections, S3's 5xx and throttling
// answers. Anything else is permanent.

// transientError marks an error as transient.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// permanentError marks an error as permanent, whatever it wraps.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Transient marks err as transient (nil stays nil).
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &transientError{err}
}

// Permanent marks err as permanent (nil stays nil), even if it wraps an
// error IsTransient would otherwise take for an outage.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// transientClickHouse are the ClickHouse exception codes of a server that is
// overloaded or restarting rather than of a bad query.
var transientClickHouse = map[int32]bool{
	159: true, // TIMEOUT_EXCEEDED
	164: true, // READONLY (a replica catching up)
	202: true, // TOO_MANY_SIMULTANEOUS_QUERIES
	203: true, // NO_FREE_CONNECTION
	209: true, // SOCKET_TIMEOUT
	210: true, // NETWORK_ERROR
	241: true, // MEMORY_LIMIT_EXCEEDED
	242: true, // TABLE_IS_READ_ONLY
	252: true, // TOO_MANY_PARTS
	319: true, // UNKNOWN_STATUS_OF_INSERT
	394: true, // QUERY_WAS_CANCELLED (a server shutting down)
	425: true, // SYSTEM_ERROR
	999: true, // KEEPER_EXCEPTION
}

// IsTransient reports whether err is transient (see Transient).
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var p *permanentError
	if errors.As(err, &p) {
		return false
	}
	var t *transientError
	if errors.As(err, &t) {
		return true
	}
	var ch *clickhouse.Exception
	if errors.As(err, &ch) {
		return transientClickHouse[ch.Code]
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() > 0 { // 0: no answer, the error below says why
		code := status.HTTPStatusCode()
		return code >= 500 || code == 429 || code == 408
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true // refused, reset, unreachable, timed out: the part is away
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH):
		return true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), // a part too slow, or the stage stopping
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, clickhouse.ErrAcquireConnTimeout):
		return true
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrConnectionClosed),
		errors.Is(err, nats.ErrDisconnected), errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrNoServers),
		errors.Is(err, nats.ErrJetStreamNotEnabled),
		errors.Is(err, nats.ErrNoStreamResponse): // a stream electing its leader (a node of a cluster lost)
		return true
	}
	var api *nats.APIError
	if errors.As(err, &api) {
		return api.Code >= 500 // JetStream temporarily unavailable, no quorum
	}
	return false
}

// Part names the part an error came from, for the reason an import waits
// and the waiting metric's label: one of the parts, or "" when it names
// none.
type Part string

// The parts sluice depends on.
const (
	PartClickHouse Part = "clickhouse"
	PartNATS       Part = "nats"
	PartS3         Part = "s3"
	PartSMTP       Part = "smtp"
)

// Parts lists the parts sluice depends on.
var Parts = []Part{PartClickHouse, PartNATS, PartS3, PartSMTP}

// partError says which part an error came from.
type partError struct {
	part Part
	err  error
}

func (e *partError) Error() string { return fmt.Sprintf("%s: %v", e.part, e.err) }
func (e *partError) Unwrap() error { return e.err }

// From says that err came from part (nil stays nil). It changes nothing of
// whether err is transient.
func From(part Part, err error) error {
	if err == nil {
		return nil
	}
	return &partError{part, err}
}

// PartOf returns the part err came from: the one From named, else the one
// whose client's error it wraps, else "".
func PartOf(err error) Part {
	var p *partError
	var ch *clickhouse.Exception
	var api *nats.APIError
	var status interface{ HTTPStatusCode() int }
	switch {
	case errors.As(err, &p):
		return p.part
	case errors.As(err, &ch), errors.Is(err, clickhouse.ErrAcquireConnTimeout):
		return PartClickHouse
	case errors.As(err, &api), errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrDisconnected), errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrNoStreamResponse):
		return PartNATS
	case errors.As(err, &status):
		return PartS3
	}
	return ""
}

// Errorf is fmt.Errorf of an error that came from part.
func Errorf(part Part, format string, args ...any) error {
	return From(part, fmt.Errorf(format, args...))
}
