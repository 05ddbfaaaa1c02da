package transform_test

import (
	"bytes"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/transform"
)

// TestRecordsUsers: the password comes out as an argon2id hash of the
// plain value, salted per tenant and user, the phone in E.164.
func TestRecordsUsers(t *testing.T) {
	secrets, err := platform.NewSecrets(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	imp := schemas.Import{Tenant: "acme", Dataset: "users", Region: "RU", ReceivedAt: time.Unix(1e9, 0)}
	row := func(login, password string) schemas.Row {
		cells := make([]string, len(schemas.Users.Fields))
		for name, v := range map[string]string{"login": login, "password": secrets.Seal(password), "email": "A@Example.com",
			"phone": "8 (916) 123-45-67", "firstName": "Anna", "lastName": "Lee", "status": ""} {
			cells[schemas.Users.Index(name)] = v
		}
		return schemas.Row{N: 2, Cells: cells}
	}
	rows, err := transform.Records(schemas.Users, &imp, []schemas.Row{row("J.Doe", "Welcome2024"), row("jane", "Welcome2024"), row("j.doe", "Other2024")}, secrets)
	if err != nil {
		t.Fatal(err)
	}
	get := func(r schemas.Row, name string) string { return r.Cells[schemas.Users.Index(name)] }
	hash := get(rows[0], "password")
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[3] != "m=19456,t=2,p=1" {
		t.Fatalf("hash %q is not an argon2id PHC string", hash)
	}
	// A login service verifies it the usual way.
	salt := secrets.Salt("acme", "j.doe")
	want := argon2.IDKey([]byte("Welcome2024"), salt, 2, 19456, 1, 32)
	if got := platform.HashSecret("Welcome2024", salt); got != hash || !strings.HasSuffix(hash, "$"+b64(want)) {
		t.Errorf("hash %q does not verify", hash)
	}
	if get(rows[1], "password") == hash {
		t.Error("two users with one password have one hash: the salt is not per user")
	}
	if get(rows[2], "password") == hash {
		t.Error("two passwords have one hash")
	}
	if got := map[string]string{"login": get(rows[0], "login"), "email": get(rows[0], "email"), "phone": get(rows[0], "phone"), "status": get(rows[0], "status")}; !reflect.DeepEqual(got,
		map[string]string{"login": "j.doe", "email": "a@example.com", "phone": "+79161234567", "status": "active"}) {
		t.Errorf("canonical cells: %v", got)
	}
}

// TestRecordsPivot: a layout's rows become their records, each with its
// row's number, the place of its value among the Email columns (an empty
// column keeps its place); the row's first record carries the values
// validate dropped from it.
func TestRecordsPivot(t *testing.T) {
	imp := schemas.Import{Tenant: "acme", Dataset: "groups", Layout: "group-based"}
	dropped := []schemas.Violation{{Column: "Email (2)", Code: schemas.CodeFormat, Message: schemas.MsgFormat, Value: "bad"}}
	rows := []schemas.Row{
		{N: 2, Cells: []string{" Sales ", "A@x.com" + schemas.ListSep + schemas.ListSep + "b@x.com"}, Dropped: dropped},
		{N: 4, Cells: []string{"Ops", "c@x.com"}},
	}
	got, err := transform.Records(schemas.GroupBased, &imp, rows, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []schemas.Row{
		{N: 2, Cells: []string{"a@x.com Sales", "Sales", "a@x.com", "0"}, Item: 1, Dropped: dropped},
		{N: 2, Cells: []string{"b@x.com Sales", "Sales", "b@x.com", "0"}, Item: 3},
		{N: 4, Cells: []string{"c@x.com Ops", "Ops", "c@x.com", "0"}, Item: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records =\n %+v\nwant\n %+v", got, want)
	}
}

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }
