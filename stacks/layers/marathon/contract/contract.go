package contract

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/stratastack/strata/stacks/layers/marathon/raml"
)

// files is the copied contract. It is read-only; each Load parses it anew.
//
//go:embed v2/types/*.raml v2/examples/*.json
var files embed.FS

// Contract is the contract's type libraries, parsed and resolved. It is
// safe for concurrent use.
type Contract struct {
	schema *raml.Schema
}

// Load parses the contract's type libraries.
func Load() (*Contract, error) {
	libs, err := fs.Glob(files, "v2/types/*.raml")
	if err != nil {
		return nil, err
	}
	s, err := raml.Load(files, libs...)
	if err != nil {
		return nil, fmt.Errorf("marathon contract: %w", err)
	}
	return &Contract{schema: s}, nil
}

// Validate checks the JSON document body against the contract's type
// typeName (see the package documentation for names). Undeclared fields are
// accepted, as the contract's object types are open. A body that does not
// match yields a *raml.Error listing every problem with its JSON path.
func (c *Contract) Validate(typeName string, body []byte) error {
	return c.validate(typeName, body, raml.Options{})
}

// ValidateStrict is Validate that also rejects, as "unknown field", any
// field an object type of the contract does not declare.
func (c *Contract) ValidateStrict(typeName string, body []byte) error {
	return c.validate(typeName, body, raml.Options{Closed: true})
}

func (c *Contract) validate(typeName string, body []byte, o raml.Options) error {
	if err := c.schema.ValidateJSON(typeName, body, o); err != nil {
		return fmt.Errorf("marathon contract: %w", err)
	}
	return nil
}

// Validate loads the contract and validates body against typeName with
// (*Contract).Validate. Callers validating many documents should Load once.
func Validate(typeName string, body []byte) error {
	c, err := Load()
	if err != nil {
		return err
	}
	return c.Validate(typeName, body)
}

// Example returns one of the contract's example bodies, by file name
// ("app.json").
func Example(name string) ([]byte, error) {
	return files.ReadFile("v2/examples/" + name)
}
