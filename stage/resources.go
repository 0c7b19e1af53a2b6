package stage

import (
	"errors"
	"fmt"
	"math"
)

// Resources is what one actor of a stage needs. GPUs and GPUMemoryGB are
// mutually exclusive: ask either for a number (or fraction) of GPUs, or for an
// amount of GPU memory that is turned into a fraction of one GPU.
type Resources struct {
	CPUs        float64 `json:"cpus,omitempty" yaml:"cpus,omitempty"`
	GPUs        float64 `json:"gpus,omitempty" yaml:"gpus,omitempty"`
	GPUMemoryGB float64 `json:"gpu_memory_gb,omitempty" yaml:"gpu_memory_gb,omitempty"`
}

// Validate checks the request the way NeMo Curator does.
func (r Resources) Validate() error {
	if math.IsNaN(r.CPUs) || math.IsNaN(r.GPUs) || math.IsNaN(r.GPUMemoryGB) {
		return fmt.Errorf("resources %+v: NaN request", r)
	}
	if r.CPUs < 0 || r.GPUs < 0 || r.GPUMemoryGB < 0 {
		return fmt.Errorf("resources %+v: negative request", r)
	}
	if r.GPUs > 0 && r.GPUMemoryGB > 0 {
		return errors.New("resources: gpus and gpu_memory_gb are mutually exclusive")
	}
	if r.GPUs > 1 && r.GPUs != float64(int(r.GPUs)) {
		return fmt.Errorf("resources: gpus=%g: more than one GPU must be a whole number", r.GPUs)
	}
	return nil
}

// EffectiveGPUs is the number of GPUs the request takes on a node whose GPUs
// each have deviceMemGB of memory. A GPUMemoryGB request becomes the fraction
// GPUMemoryGB/deviceMemGB, which must not exceed 1.
func (r Resources) EffectiveGPUs(deviceMemGB float64) (float64, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	if r.GPUMemoryGB == 0 {
		return r.GPUs, nil
	}
	if deviceMemGB <= 0 {
		return 0, fmt.Errorf("resources: gpu_memory_gb=%g requested but the GPU memory size is unknown", r.GPUMemoryGB)
	}
	f := r.GPUMemoryGB / deviceMemGB
	if f > 1 {
		return 0, fmt.Errorf("resources: gpu_memory_gb=%g exceeds one GPU's %g GB", r.GPUMemoryGB, deviceMemGB)
	}
	return f, nil
}
