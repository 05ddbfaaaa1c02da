package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/schemas"
)

// TestHeaderLabels uploads users files whose headers partners wrote in
// their own words: the import's audit says which column was read as which
// field; a column that is no field, two columns of one field, and a partial
// file in create mode are rejected whole, with a reason that names the
// columns.
func TestHeaderLabels(t *testing.T) {
	t.Parallel()
	t.Run("labels", func(t *testing.T) {
		const header = "login,Пароль,Email address,Имя,Фамилия,The user is a manager,must change password"
		i := upload(t, "globex/users/labels.csv", []byte(header+"\nl.ivanova,Labels2024,l.ivanova@globex.example,Лидия,Иванова,1,1\n"), "")
		if want := (schemas.Counts{Rows: 1, Created: 1}); i.Status != schemas.StatusCompleted || i.Counts != want {
			t.Fatalf("got %s %+v (%s), want completed %+v", i.Status, i.Counts, i.Reason, want)
		}
		var labels []string
		query(t, "SELECT labels FROM sluice.imports FINAL WHERE import_id = ?", func(r driver.Rows) error {
			return r.Scan(&labels)
		}, i.ID)
		want := []string{"Пароль -> password", "Email address -> email", "Имя -> firstName", "Фамилия -> lastName",
			"The user is a manager -> manager", "must change password -> mustChangePassword"}
		if !slices.Equal(labels, want) {
			t.Errorf("imports.labels = %q, want %q", labels, want)
		}
		var rows uint64
		if err := stack.ch.Conn.QueryRow(context.Background(), "SELECT count() FROM sluice.import_rows FINAL WHERE import_id = ?", i.ID).Scan(&rows); err != nil || rows != 1 {
			t.Errorf("audited rows: %d (%v), want 1", rows, err)
		}
		var got []string
		query(t, `SELECT email, first_name, last_name, toString(manager), toString(must_change_password), substring(password_hash, 1, 10)
			FROM sluice.users FINAL WHERE tenant = 'globex' AND login = 'l.ivanova'`, func(r driver.Rows) error {
			got = make([]string, 6)
			return r.Scan(&got[0], &got[1], &got[2], &got[3], &got[4], &got[5])
		})
		if want := []string{"l.ivanova@globex.example", "Лидия", "Иванова", "1", "1", "$argon2id$"}; !slices.Equal(got, want) {
			t.Errorf("l.ivanova: %q, want %q", got, want)
		}
	})

	tests := []struct {
		name, key, body, mode, code string
		// names are what the reason must quote.
		names []string
	}{
		{"a patronymic is no field", "globex/users/patronymic.csv", "Логин,Фамилия,Имя,Отчество\nivan.s,Сидоров,Иван,Петрович\n", "",
			schemas.CodeUnknownColumn, []string{`"Отчество"`}},
		{"two columns of the login", "globex/users/two-logins.csv", "Login,Email,Username\nann,ann@globex.example,ann\n", "",
			schemas.CodeDuplicateColumn, []string{`"Login"`, `"Username"`, "login"}},
		{"a partial file in create mode", "globex/users/partial-create.csv", "login,phone\nann,+7 916 123-45-67\n", schemas.ModeCreate,
			schemas.CodeMissingColumn, []string{"email", "firstName", "lastName", "password"}},
	}
	t.Run("rejected", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel() // MinIO sends bucket events every few seconds: wait for them together
				md := map[string]string{}
				if tt.mode != "" {
					md["mode"] = tt.mode
				}
				i := uploadWith(t, tt.key, []byte(tt.body), md)
				if i.Status != schemas.StatusRejected || i.ReasonCode != tt.code {
					t.Fatalf("got %s %q (%s), want rejected %q", i.Status, i.ReasonCode, i.Reason, tt.code)
				}
				for _, n := range tt.names {
					if !strings.Contains(i.Reason, n) {
						t.Errorf("reason %q does not name %s", i.Reason, n)
					}
				}
			})
		}
	})
}
