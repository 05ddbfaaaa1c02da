package notify

import (
	"github.com/sluicehq/sluice/schemas"
)

// Status decides the status of an import all of whose chunks load reported.
// An import load rejected rows of as cancelled (its file was deleted while it
// ran) is cancelled. Otherwise an import with rejected rows requires
// intervention when it aborts on error, and is completed with errors when it
// continues; one with none is completed.
func Status(imp *schemas.Import, counts schemas.Counts, cancelledRows int) string {
	switch {
	case cancelledRows > 0:
		return schemas.StatusCancelled
	case imp.Aborts() && counts.Rejected > 0:
		return schemas.StatusRequiresIntervention
	case counts.Rejected > 0:
		return schemas.StatusCompletedWithErrors
	}
	return schemas.StatusCompleted
}

// statusRank versions an import's rows: a later status replaces an earlier
// one, whatever order the events arrive in.
func statusRank(status string) uint64 {
	switch status {
	case schemas.StatusReceived:
		return 1
	case schemas.StatusProcessing:
		return 2
	}
	return 3
}
