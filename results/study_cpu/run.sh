#!/bin/bash
# A CPU study, resumable: rerunning skips finished cells. DIR (default results/study_cpu) holds study.yaml; the
# wall time and the log go beside it. One torch/vLLM thread per process, two cells at once (on this shared 2-core
# machine two threads per process ran slower than one: OMP barriers wait on preempted threads).
cd "$(dirname "$0")/../.."
dir=${1:-results/study_cpu}
export OMP_NUM_THREADS=1 VLLM_CPU_OMP_THREADS_BIND=nobind PYTHONPATH=$PWD
/usr/bin/time -f "wall_s=%e user_s=%U sys_s=%S" -a -o $dir/time.txt \
  python -m harness.cli study --config $dir/study.yaml --jobs 2 2>&1 | tee -a $dir/study.log
