package schemas_test

import (
	"fmt"

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

// MapHeader matches a file's header to the dataset however the partner wrote
// it, and names the column that is wrong when it cannot.
func ExampleDataset_MapHeader() {
	cols, _ := schemas.Clients.MapHeader([]string{"E-mail", "First Name"})
	for c, i := range cols {
		fmt.Printf("file column %d is %s\n", c, schemas.Clients.Fields[i].Name)
	}

	_, v := schemas.Clients.MapHeader([]string{"firstName", "email", "phone"})
	fmt.Println(v.Code)
	fmt.Println(v.Message)
	// Output:
	// file column 0 is email
	// file column 1 is firstName
	// unknown_column
	// the file has an unknown column "phone"; expected headers: ID, firstName, lastName, email, project, desk, active, type, created
}
