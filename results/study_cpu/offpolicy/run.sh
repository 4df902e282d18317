#!/bin/bash
# The CPU study, resumable: rerunning skips finished cells. One torch/vLLM thread per process, two cells at once
# (on this shared 2-core machine two threads per process ran slower than one: OMP barriers wait on preempted threads).
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=1 VLLM_CPU_OMP_THREADS_BIND=nobind PYTHONPATH=$PWD
/usr/bin/time -f "wall_s=%e user_s=%U sys_s=%S" -a -o results/study_cpu/offpolicy/time.txt \
  python -m harness.cli study --config results/study_cpu/offpolicy/study.yaml --jobs 2 2>&1 | tee -a results/study_cpu/offpolicy/study.log
