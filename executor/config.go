package executor

import (
	"io"
	"log/slog"
	"time"
)

// Mode selects how consecutive stages run.
type Mode string

const (
	// Streaming runs consecutive plain stages at the same time, connected by
	// bounded queues. Shuffle, collective and LSH stages are barriers. This is
	// the default.
	Streaming Mode = "streaming"
	// StageByStage runs one stage at a time over all of its input, as NeMo
	// Curator's actor-pool executor does.
	StageByStage Mode = "stage-by-stage"
)

// OrDefault returns m, or Streaming (the default) when m is empty.
func (m Mode) OrDefault() Mode {
	if m == "" {
		return Streaming
	}
	return m
}

// Config configures an Executor. The zero value is usable: every field has a
// documented default.
type Config struct {
	// Mode is Streaming (default) or StageByStage.
	Mode Mode `json:"mode,omitempty" yaml:"mode,omitempty"`
	// ReservedCPUs and ReservedGPUs are subtracted from the cluster's free
	// resources before actors are sized.
	ReservedCPUs float64 `json:"reserved_cpus,omitempty" yaml:"reserved_cpus,omitempty"`
	ReservedGPUs float64 `json:"reserved_gpus,omitempty" yaml:"reserved_gpus,omitempty"`
	// Env is merged under every stage's env (the stage wins, with a warning).
	Env map[string]string `json:"env,omitempty" yaml:"env,omitempty"`

	// MaxAttempts is how many times a batch whose stage returns an error is
	// tried in all (default 3).
	MaxAttempts int `json:"max_attempts,omitempty" yaml:"max_attempts,omitempty"`
	// RetryBackoff is the wait before the first retry; it doubles per retry (default 50ms).
	RetryBackoff time.Duration `json:"retry_backoff,omitempty" yaml:"retry_backoff,omitempty"`
	// MaxActorDeaths is K: a batch whose calls kill K actors (panic or
	// timeout) is poison, and its tasks fail (default 3).
	MaxActorDeaths int `json:"max_actor_deaths,omitempty" yaml:"max_actor_deaths,omitempty"`
	// MaxSetupFailures is how many actor set-ups may fail in a stage before
	// the stage fails (default 3).
	MaxSetupFailures int `json:"max_setup_failures,omitempty" yaml:"max_setup_failures,omitempty"`
	// BatchTimeout bounds one ProcessBatch call (0 = none). An actor whose
	// call exceeds it is abandoned and replaced, and the batch is retried.
	BatchTimeout time.Duration `json:"batch_timeout,omitempty" yaml:"batch_timeout,omitempty"`
	// Stages holds per-stage overrides of the settings above, by stage name.
	Stages map[string]StageConfig `json:"stages,omitempty" yaml:"stages,omitempty"`
	// MaxFailedFraction is the fraction of a stage's input tasks that may fail
	// before the run aborts (default 0: the first failed task aborts the run).
	// Whatever the fraction, Execute reports failed tasks with a
	// *TasksFailedError.
	MaxFailedFraction float64 `json:"max_failed_fraction,omitempty" yaml:"max_failed_fraction,omitempty"`
	// FailedManifest, if set, is a JSONL file that receives one line per
	// failed task: task id, stage, error, attempts.
	FailedManifest string `json:"failed_manifest,omitempty" yaml:"failed_manifest,omitempty"`

	// QueueSize is the capacity, in tasks, of the queue in front of each
	// streaming stage (default: twice the stage's batch size, at least 4).
	// With MaxPending it bounds the tasks a streaming pipeline holds.
	QueueSize int `json:"queue_size,omitempty" yaml:"queue_size,omitempty"`
	// MaxPending bounds the batches queued in a stage's pool beyond the one
	// each actor is running (default 8: enough to keep actors busy when
	// batches are tiny; lower it when single batches are large).
	MaxPending int `json:"max_pending,omitempty" yaml:"max_pending,omitempty"`
	// ShuffleMemoryLimit bounds the rows all shuffle actors buffer in memory
	// before spilling to disk, in bytes (0 = unlimited). It is split evenly
	// between the actors of a shuffle.
	ShuffleMemoryLimit int64 `json:"shuffle_memory_limit,omitempty" yaml:"shuffle_memory_limit,omitempty"`

	// Progress is where live progress bars are drawn (nil = none). Bars are
	// drawn only when it is a terminal.
	Progress io.Writer `json:"-" yaml:"-"`
	// ProgressInterval is the refresh interval of the bars (default 150ms).
	ProgressInterval time.Duration `json:"progress_interval,omitempty" yaml:"progress_interval,omitempty"`
	// Logger receives warnings and errors (default: discard).
	Logger *slog.Logger `json:"-" yaml:"-"`
	// Observer, if set, watches the run live (progress lines, metrics,
	// the dashboard): see Observer.
	Observer Observer `json:"-" yaml:"-"`
}

// StageConfig overrides fault-tolerance settings for one stage.
type StageConfig struct {
	MaxAttempts    int           `json:"max_attempts,omitempty" yaml:"max_attempts,omitempty"`
	MaxActorDeaths int           `json:"max_actor_deaths,omitempty" yaml:"max_actor_deaths,omitempty"`
	BatchTimeout   time.Duration `json:"batch_timeout,omitempty" yaml:"batch_timeout,omitempty"`
}
