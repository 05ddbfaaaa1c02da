package schemas_test

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/schemas"
)

// Check judges one raw cell against its field's rules and returns the
// violation a partner reads, in the words of the product documents.
func ExampleField_Check() {
	email := &schemas.Clients.Fields[schemas.Clients.Index("email")]
	for _, value := range []string{"john.doe@example.com", "", "john.doe"} {
		if v, ok := email.Check(value, schemas.Context{}, email.Required); !ok {
			fmt.Printf("%q: %s: %s\n", value, v.Code, v.Message)
			continue
		}
		fmt.Printf("%q: ok\n", value)
	}
	// Output:
	// "john.doe@example.com": ok
	// "": required: the value of the field email cannot be empty
	// "john.doe": format: the entered value does not match the format
}

// Match matches a file's header to the dataset however the partner wrote
// it, by a field's name or one of its labels, and names the column that is
// wrong when it cannot.
func ExampleDataset_Match() {
	h, _ := schemas.Users.Match([]string{"Login", "E-mail", "The user is a manager", "Фамилия"}, schemas.ModeUpdate)
	for c, i := range h.Cols {
		fmt.Printf("file column %d is %s\n", c, h.Shape.Fields[i].Name)
	}
	fmt.Println(strings.Join(h.Labels, "; "))

	_, v := schemas.Clients.Match([]string{"firstName", "email", "phone"}, schemas.ModeCreate)
	fmt.Println(v.Code)
	fmt.Println(v.Message)
	// Output:
	// file column 0 is login
	// file column 1 is email
	// file column 2 is manager
	// file column 3 is lastName
	// Login -> login; E-mail -> email; The user is a manager -> manager; Фамилия -> lastName
	// unknown_column
	// the file has an unknown column "phone"; expected headers: ID, firstName, lastName, email, project, desk, active, type, created
}
