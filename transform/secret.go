package transform

import (
	"encoding/base64"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters: OWASP's first choice (19 MiB, two passes, one
// thread). A hash costs tens of milliseconds of one core, on purpose.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// hashing bounds the hashes computed at once in the process, however many
// chunks it handles: one per core, as each holds 19 MiB while it runs, so
// transform's memory does not grow with the chunks it handles at once.
var hashing = make(chan struct{}, runtime.GOMAXPROCS(0))

// HashSecret hashes a secret with argon2id and returns it in the PHC string
// format ($argon2id$v=19$m=...,t=...,p=...$salt$hash) that login services
// verify.
func HashSecret(plain string, salt []byte) string {
	hashing <- struct{}{}
	defer func() { <-hashing }()
	key := argon2.IDKey([]byte(plain), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64(salt), b64(key))
}
