package schemas

// RowHash identifies a record's content, to tell updated from unchanged: FNV-1a
// over the canonical cells, each followed by a zero byte. It is stored with
// the record (row_hash), so it must never change; whatever writes a record
// (load, or notify changing a user's status) hashes it here. It is written
// out because hash/fnv would copy every cell to a []byte first (load's
// hottest allocation).
func RowHash(cells []string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, c := range cells {
		for i := 0; i < len(c); i++ {
			h ^= uint64(c[i])
			h *= prime
		}
		h *= prime // the zero byte: h ^= 0, then multiply
	}
	return h
}
