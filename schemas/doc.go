// Package schemas is the contract every sluice stage agrees on. It owns:
//
//   - the datasets partners import (Dataset, Datasets): their fields, the
//     rules a cell must pass (Field.Check), its canonical form and default
//     (Field.Canonical), keys and identities (a client is identified by its
//     ID, and named by its email when a row has no ID: Dataset.Identity),
//     layouts, and the words of the template partners download
//     (Field.Help, Field.Example, Field.Rule, Dataset.MoreExamples);
//   - the error codes and every message a partner reads, word for word from
//     the product documents where they give one (messages.go: Code*, Msg*);
//   - the events that travel between stages (Import, Chunk, Row, Rejected,
//     DLQRows, ImportEvent), including Row's empty-cell marks (Row.IsEmpty)
//     and its marks of cells that name another row of the file
//     (Row.NamesInFile: a user's manager);
//   - the names the running system knows and that must never change
//     silently: streams and subjects, stage names, durable consumer names
//     (Durable*) and their deliver subjects (DeliverSubject), and the
//     Nats-Msg-Id of every publish (MsgID, Token*).
//
// It owns no I/O and no behaviour of a stage: no NATS, no S3, no ClickHouse,
// no configuration or tenants (platform). Reading files and finding repeated
// keys is ingest's, applying the rules to chunks validate's, hashing secrets
// and pivoting layouts transform's, the checks against stored records load's,
// mails notify's. Stages import schemas; it imports nothing of theirs. Adding
// a dataset means declaring a Dataset here and registering it in Datasets;
// the stages, the ClickHouse migrations and the templates read everything
// else from it.
//
// Cells travel as strings in the dataset's field order from ingest to load.
// Validate judges them with Field.Check, transform turns them into their
// canonical form with Field.Canonical, and load converts the canonical form
// to the column's type with Field.Kind. What a field needs of the stored
// records (Ref, Unique) load checks; a Secret field (a password) is sealed by
// ingest and hashed by transform.
//
// A file's header is matched to a dataset by Dataset.Match: a column is the
// field whose name or one of whose Labels it is, as partners write them (the
// seeds' words, synonyms, the Russian version's), folded by NormalizeHeader
// (case, spaces, punctuation and filler words do not count). In update mode
// a file may carry only its key column and the columns it changes (seed
// 002). A dataset may have layouts (groups: user-based or group-based), told
// apart by a file's header; a layout's rows pivot into records of another
// dataset (memberships), which is what load writes.
//
// A group-based row's members are judged each on its own (Dataset.EachItem,
// Row.Dropped, Row.Item, Dataset.ItemColumn). Memberships and groups may be
// removed: a removal is a new version of the record whose Removed cell says
// so (Removal), as no stage deletes rows; readers skip removed records.
package schemas
