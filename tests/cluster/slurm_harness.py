"""A throw-away single-node SLURM cluster on this machine, for the cluster tests.

Installs Debian's SLURM and munge packages when missing (apt-get, as root), writes slurm.conf and
gres.conf into a temporary folder, links /etc/slurm/slurm.conf to it (the slurm executor strips
`SLURM_CONF` from the environment of the `srun` it runs inside each job, so clients must find the
file where Debian's binaries look), starts munged (unless one already answers), slurmctld and
slurmd in the foreground, and at the end stops exactly the processes it started and removes the
link.

The node is a fake GPU node in two partitions, the profile's CPU partition (the default) and its
GPU partition, so that the tests see where each job was sent: `FAKE_GPUS` GPUs backed by plain
files, and the CPUs and memory it
declares (`SlurmdParameters=config_overrides`, no cgroups, so nothing is enforced), so that the
profile's per-rule requests fit on a 2-core machine. It is sized so that every job a run has ready
at once starts at once (the rehearsal's six trainings, or its GPU jobs' 8 CPUs each beside CPU
jobs): a job held in the queue for a slot that is only declared tests nothing and costs minutes. Finished jobs stay visible to squeue for
10 minutes (`MinJobAge`), which is how the tests read what SLURM ran.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import yaml

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
BINARIES = ("/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/bin/sbatch")
FAKE_GPUS = 8
NODE_CPUS = 128
NODE_MEMORY_MB = 512_000
MUNGE_RUN = Path("/run/munge")
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


class ClusterUnavailable(RuntimeError):
    """This machine cannot host the test cluster (not root, no apt, ...)."""


def install_packages() -> None:
    """apt-get the SLURM and munge packages unless they are there already."""
    if all(Path(b).exists() for b in BINARIES):
        return
    if os.geteuid() != 0:
        raise ClusterUnavailable("SLURM is not installed and installing it needs root")
    if shutil.which("apt-get") is None:
        raise ClusterUnavailable("SLURM is not installed and apt-get is unavailable")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise ClusterUnavailable(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slurm_conf(root: Path, partitions: tuple[str, ...]) -> str:
    """The node in every partition (the first the default), as a site's CPU and GPU partitions."""
    return "\n".join([
        "ClusterName=zs3test", "SlurmctldHost=localhost", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", f"SlurmctldPort={free_port()}", f"SlurmdPort={free_port()}",
        f"StateSaveLocation={root}/state", f"SlurmdSpoolDir={root}/spool",
        f"SlurmctldPidFile={root}/slurmctld.pid", f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/slurmctld.log", f"SlurmdLogFile={root}/slurmd.log",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SlurmdParameters=config_overrides",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core_Memory", "DefMemPerCPU=1000",
        "MinJobAge=600", "ReturnToService=2", "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none", "MailProg=/bin/true", "GresTypes=gpu",
        f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={NODE_CPUS} RealMemory={NODE_MEMORY_MB} "
        f"Gres=gpu:{FAKE_GPUS} State=UNKNOWN",
        *(f"PartitionName={p} Nodes=ALL Default={'YES' if i == 0 else 'NO'} MaxTime=INFINITE State=UP"
          for i, p in enumerate(partitions)), ""])


def profile_partitions(profile: Path) -> dict[str, str]:
    """{"cpu": a SLURM profile's default partition, "gpu": the partition its GPU rules name}."""
    settings = yaml.safe_load(Path(profile).read_text())
    gpu = {r["slurm_partition"] for r in settings["set-resources"].values() if r.get("gpu")}
    assert len(gpu) == 1, f"{profile}: the GPU rules name partitions {gpu}, expected one"
    return {"cpu": settings["default-resources"]["slurm_partition"], "gpu": gpu.pop()}


def rule_of(job: dict) -> str:
    """The rule (or group) of a job, from the comment the slurm executor gives it."""
    return job["Comment"].removeprefix("rule_").split("_wildcards_")[0]


class SlurmCluster:
    """Start with `start()`, stop with `stop()`; `env` is what a client process needs."""

    def __init__(self, root: Path, partitions: tuple[str, ...]):
        self.root, self.partitions = Path(root), partitions
        self.env = {**os.environ, "SLURM_CONF": str(self.root / "slurm.conf")}
        self._daemons: list[subprocess.Popen] = []
        self._linked = False

    def start(self, timeout: float = 60) -> None:
        install_packages()
        for sub in ("state", "spool"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        conf = self.root / "slurm.conf"
        conf.write_text(slurm_conf(self.root, self.partitions))
        self._link_system_conf(conf)
        for i in range(FAKE_GPUS):
            (self.root / f"fakegpu{i}").touch()
        (self.root / "gres.conf").write_text(f"Name=gpu File={self.root}/fakegpu[0-{FAKE_GPUS - 1}]\n")
        if not self._munge_answers():
            self._start_munged()
        self._spawn(["/usr/sbin/slurmctld", "-D", "-c"], "slurmctld.out")
        self._spawn(["/usr/sbin/slurmd", "-D", "-N", "localhost"], "slurmd.out")
        self._wait_for_idle_node(timeout)

    def _link_system_conf(self, conf: Path) -> None:
        if SYSTEM_CONF.exists() and not SYSTEM_CONF.is_symlink():
            raise ClusterUnavailable(f"{SYSTEM_CONF} exists: this machine has its own SLURM configuration")
        if os.geteuid() != 0:
            raise ClusterUnavailable(f"writing {SYSTEM_CONF} needs root")
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.unlink(missing_ok=True)  # a link left by an earlier run
        SYSTEM_CONF.symlink_to(conf)
        self._linked = True

    def _munge_answers(self) -> bool:
        if shutil.which("munge") is None:
            return False
        encode = subprocess.run(["munge", "-n"], capture_output=True)
        return encode.returncode == 0 and subprocess.run(["unmunge"], input=encode.stdout,
                                                         capture_output=True).returncode == 0

    def _start_munged(self) -> None:
        if os.geteuid() != 0:
            raise ClusterUnavailable("munged is not running and starting it needs root")
        if not Path("/etc/munge/munge.key").exists():
            subprocess.run(["mungekey", "--create"], check=True)
            shutil.chown("/etc/munge/munge.key", "munge", "munge")
        MUNGE_RUN.mkdir(mode=0o755, exist_ok=True)
        shutil.chown(MUNGE_RUN, "munge", "munge")
        self._spawn(["/usr/sbin/munged", "-F"], "munged.out", user="munge")
        deadline = time.monotonic() + 10
        while not self._munge_answers():
            if time.monotonic() > deadline:
                raise ClusterUnavailable("munged did not start")
            time.sleep(0.1)

    def _spawn(self, cmd: list[str], log: str, **kwargs) -> None:
        with open(self.root / log, "w") as out:
            self._daemons.append(subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                                  **kwargs))

    def _wait_for_idle_node(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # one line per partition the node is in
            state = set(self.run("sinfo", "-h", "-N", "-o", "%T", check=False).stdout.split())
            if state == {"idle"}:
                return
            if any(d.poll() is not None for d in self._daemons):
                break
            time.sleep(0.5)
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(self.root.glob("*.log")))
        self.stop()
        raise RuntimeError(f"the SLURM node did not become idle (state {state!r})\n{logs}")

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        """A SLURM client command against this cluster."""
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60, check=check)

    def jobs(self, workdir: Path | None = None) -> list[dict]:
        """Every job SLURM still remembers (`scontrol show job`): JobId, JobState, Comment (the
        plugin writes rule_<rule>_wildcards_<values>), Partition, TresPerJob (gres:gpu:1 for a GPU
        job), ...;
        with `workdir`, only those submitted from it (one run's --directory: tests share the cluster)."""
        out = self.run("scontrol", "show", "job", "-o").stdout
        jobs = [dict(re.findall(r"(\S+?)=(\S*)", line)) for line in out.splitlines() if line.startswith("JobId=")]
        return [j for j in jobs if workdir is None or Path(j["WorkDir"]) == Path(workdir).resolve()]

    def stop(self) -> None:
        """Cancel what still runs (so no job step outlives slurmd), then stop the daemons this
        object started, newest first."""
        if self._daemons:
            self.run("scancel", f"--user={os.getuid()}", check=False)
            deadline = time.monotonic() + 30
            while (time.monotonic() < deadline and
                   self.run("squeue", "-h", "-t", "RUNNING,COMPLETING", check=False).stdout.strip()):
                time.sleep(0.5)
        for daemon in reversed(self._daemons):
            if daemon.poll() is None:
                daemon.terminate()
                try:
                    daemon.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
        self._daemons.clear()
        if self._linked and SYSTEM_CONF.is_symlink() and SYSTEM_CONF.resolve() == (self.root / "slurm.conf").resolve():
            SYSTEM_CONF.unlink()
        self._linked = False
