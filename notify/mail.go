package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/wneessen/go-mail"

	"github.com/sluicehq/sluice/platform"
)

// Mail is one email notify sends.
type Mail struct {
	To      string
	Subject string
	Body    string
	// Attachment, if named, is attached as text/csv.
	AttachmentName string
	Attachment     []byte
}

// SMTP is the Mailer on an SMTP server.
type SMTP struct {
	Addr string
	From string
}

// Send implements Mailer.
func (s SMTP) Send(ctx context.Context, m Mail) error {
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("notify: smtp address %q: %w", s.Addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("notify: smtp port %q: %w", port, err)
	}
	msg := mail.NewMsg()
	if err := msg.From(s.From); err != nil {
		return fmt.Errorf("notify: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("notify: to %q: %w", m.To, err)
	}
	msg.Subject(HeaderSafe(m.Subject))
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(mail.TypeTextPlain, m.Body)
	if m.AttachmentName != "" {
		if err := msg.AttachReader(HeaderSafe(m.AttachmentName), bytes.NewReader(m.Attachment),
			mail.WithFileContentType(mail.ContentType("text/csv"))); err != nil {
			return fmt.Errorf("notify: attach: %w", err)
		}
	}
	c, err := mail.NewClient(host, mail.WithPort(p), mail.WithTLSPolicy(mail.TLSOpportunistic), mail.WithTimeout(10*time.Second))
	if err != nil {
		return fmt.Errorf("notify: smtp: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return sendError(m.To, err)
	}
	return nil
}

// sendError says where a send failed, and that it is transient when the
// server is away or answered with a temporary (4xx) refusal.
func sendError(to string, err error) error {
	err = platform.Errorf(platform.PartSMTP, "notify: send to %s: %w", to, err)
	var se *mail.SendError
	if errors.As(err, &se) && se.IsTemp() {
		return platform.Transient(err)
	}
	return err
}

// HeaderSafe removes CR, LF and every other control character, so nothing
// from a file (its name, say) can add a header to a mail.
func HeaderSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}
