package load

import (
	"context"
	"errors"
	"time"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// errStopping answers chunks still waiting when the stage stops; they are
// redelivered.
var errStopping = platform.Transient(errors.New("load: stopping"))

type flushFunc func(ctx context.Context, chunks []*schemas.Chunk, retried bool) ([]schemas.Counts, error)

type result struct {
	counts schemas.Counts
	err    error
}

type request struct {
	chunk   *schemas.Chunk
	retried bool
	reply   chan result
}

type group struct {
	reqs    []*request
	rows    int
	retried bool
	started time.Time
}

// batcher gathers the chunks handled at once into large writes, one import
// per write: a write happens when its chunks reach rows, or when its first
// chunk has waited wait. Writes happen one at a time, in a goroutine of
// their own, while the next write gathers: most of a write is waiting for
// ClickHouse.
type batcher struct {
	in    chan *request
	rows  int
	wait  time.Duration
	flush flushFunc
}

func newBatcher(rows int, wait time.Duration, flush flushFunc) *batcher {
	return &batcher{in: make(chan *request), rows: rows, wait: wait, flush: flush}
}

// add hands a chunk to the batcher and waits for its write. retried says
// the chunk may have been written before.
func (b *batcher) add(ctx context.Context, c *schemas.Chunk, retried bool) (schemas.Counts, error) {
	req := &request{chunk: c, retried: retried, reply: make(chan result, 1)}
	select {
	case b.in <- req:
	case <-ctx.Done():
		return schemas.Counts{}, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.counts, r.err
	case <-ctx.Done():
		return schemas.Counts{}, ctx.Err()
	}
}

// run gathers and writes until ctx ends.
func (b *batcher) run(ctx context.Context) {
	ready := make(chan *group)
	written := make(chan struct{})
	go func() {
		defer close(written)
		for g := range ready {
			b.write(ctx, g)
		}
	}()
	defer func() { close(ready); <-written }()
	send := func(g *group) {
		select {
		case ready <- g:
		case <-ctx.Done():
			g.answer(nil, errStopping)
		}
	}
	groups := map[string]*group{}
	tick := time.NewTicker(b.wait / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			for _, g := range groups {
				g.answer(nil, errStopping)
			}
			return
		case req := <-b.in:
			id := req.chunk.Import.ID
			g := groups[id]
			if g == nil {
				g = &group{started: time.Now()}
				groups[id] = g
			}
			g.reqs = append(g.reqs, req)
			g.rows += req.chunk.Size()
			g.retried = g.retried || req.retried
			if g.rows >= b.rows {
				delete(groups, id)
				send(g)
			}
		case now := <-tick.C:
			for id, g := range groups {
				if now.Sub(g.started) >= b.wait {
					delete(groups, id)
					send(g)
				}
			}
		}
	}
}

func (b *batcher) write(ctx context.Context, g *group) {
	chunks := make([]*schemas.Chunk, len(g.reqs))
	for i, r := range g.reqs {
		chunks[i] = r.chunk
	}
	counts, err := b.flush(ctx, chunks, g.retried)
	g.answer(counts, err)
}

func (g *group) answer(counts []schemas.Counts, err error) {
	for i, r := range g.reqs {
		res := result{err: err}
		if err == nil {
			res.counts = counts[i]
		}
		r.reply <- res
	}
}
