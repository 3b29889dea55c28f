"""Labelled log corpora with known templates, in the header styles of public log datasets.

`corpus(name, lines, seed)` returns `(line, event)` pairs, where `event` names the template of
the line's content. They score a template miner by grouping accuracy (`grouping_accuracy`),
the measure of the loghub benchmarks: a line counts as parsed correctly when its group holds
exactly the lines of its event. As in those datasets, labels describe the content only: the
same message written by two components (`su`, `sshd`) is one event, and header fields (time,
host, pid, level, component, program) are never part of it.

The formats imitate the header layouts of well-known public samples (HDFS, Linux syslog,
OpenSSH, Zookeeper, Apache, BGL, Android, HealthApp, Proxifier, OpenStack, Spark, Windows
CBS) with invented messages and deliberately awkward variables: user, host and program names,
file paths, events differing by one word, variables of several tokens.
"""

from __future__ import annotations

import random
import string
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

Var = Callable[[random.Random], str]


def _int(lo: int, hi: int) -> Var:
    return lambda r: str(r.randint(lo, hi))


def _pick(*choices: str) -> Var:
    return lambda r: r.choice(choices)


def _ip(r: random.Random) -> str:
    return f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


def _ipport(r: random.Random) -> str:
    return f"{_ip(r)}:{r.randint(1024, 65535)}"


def _hex(n: int) -> Var:
    return lambda r: "".join(r.choice("0123456789abcdef") for _ in range(n))


def _uuid(r: random.Random) -> str:
    h = _hex(32)(r)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _float(r: random.Random) -> str:
    return f"{r.uniform(0, 5000):.{r.randint(1, 4)}f}"


def _word(r: random.Random) -> str:
    return "".join(r.choice(string.ascii_lowercase) for _ in range(r.randint(3, 9)))


_BLK = _int(-(10**18), 10**18)
_user = _pick("root", "admin", "oracle", "test", "guest", "cyrus", "news", "ftp", "alice", "www")
_host = _pick("knoppix", "combo", "labsz", "node", "gateway", "mail.example.org", "db-primary")
_prog = _pick("chrome.exe", "firefox.exe", "outlook.exe", "Skype.exe", "svchost.exe", "git.exe")
_path = _pick("/var/log/messages", "/etc/passwd", "/usr/lib/libssl.so", "/tmp/cache.db")


@dataclass(frozen=True)
class Event:
    """One event: content with `{}` slots, slot values, and the components that write it."""

    content: str
    slots: tuple[Var, ...] = ()
    components: tuple[str, ...] = ("",)


def ev(content: str, *slots: Var, by: str | tuple[str, ...] = "") -> Event:
    """Shorthand for an `Event`; `by` is one component or several."""
    return Event(content, slots, (by,) if isinstance(by, str) else by)


@dataclass(frozen=True)
class Format:
    """A log format: its header (rng, line number, component) -> text, and its events."""

    name: str
    header: Callable[[random.Random, int, str], str]
    events: tuple[Event, ...]


def _hms(i: int, sep: str = ":") -> str:
    seconds = 3600 * 6 + i * 7
    return sep.join(
        f"{v:02d}" for v in ((seconds // 3600) % 24, (seconds // 60) % 60, seconds % 60)
    )


def _bgl_node(r: random.Random) -> str:
    return (
        f"R{r.randint(0, 77):02d}-M{r.randint(0, 1)}-N{r.randint(0, 15)}-C:J{r.randint(2, 17)}"
        f"-U{r.randint(0, 11):02d}"
    )


FORMATS: tuple[Format, ...] = (
    Format(
        "hdfs",
        lambda r, i, c: (
            f"0811{10 + i // 1500:02d} {_hms(i, '')} {r.randint(13, 30000)} "
            f"{r.choice(['INFO', 'INFO', 'WARN'])} {c}: "
        ),
        (
            ev(
                "PacketResponder {} for block blk_{} terminating",
                _int(0, 2),
                _BLK,
                by="dfs.DataNode$PacketResponder",
            ),
            ev(
                "Received block blk_{} of size {} from /{}",
                _BLK,
                _int(1, 10**8),
                _ip,
                by="dfs.DataNode$PacketResponder",
            ),
            ev(
                "Receiving block blk_{} src: /{} dest: /{}",
                _BLK,
                _ipport,
                _ipport,
                by="dfs.DataNode$DataXceiver",
            ),
            ev(
                "BLOCK* NameSystem.addStoredBlock: blockMap updated: {} is added to blk_{} size {}",
                _ipport,
                _BLK,
                _int(1, 10**8),
                by="dfs.FSNamesystem",
            ),
            ev(
                "BLOCK* NameSystem.allocateBlock: /user/root/rand/_temporary/_task_{}_m_{}_0/"
                "part-{}. blk_{}",
                _int(10**9, 10**10),
                _int(0, 9999),
                _int(0, 9999),
                _BLK,
                by="dfs.FSNamesystem",
            ),
            ev("{} Served block blk_{} to /{}", _ipport, _BLK, _ip, by="dfs.DataNode$DataXceiver"),
            ev(
                "{}:Got exception while serving blk_{} to /{}:",
                _ipport,
                _BLK,
                _ip,
                by="dfs.DataNode$DataXceiver",
            ),
            ev(
                "Deleting block blk_{} file /mnt/hadoop/dfs/data/current/subdir{}/blk_{}",
                _BLK,
                _int(0, 63),
                _BLK,
                by="dfs.FSDataset",
            ),
            ev(
                "{} Starting thread to transfer block blk_{} to {}",
                _ipport,
                _BLK,
                _ipport,
                by="dfs.DataNode",
            ),
            ev(
                "BLOCK* NameSystem.delete: blk_{} is added to invalidSet of {}",
                _BLK,
                _ipport,
                by="dfs.FSNamesystem",
            ),
            ev(
                "Exception in receiveBlock for block blk_{} java.io.IOException: Connection reset "
                "by peer",
                _BLK,
                by="dfs.DataNode$BlockReceiver",
            ),
            ev(
                "PacketResponder blk_{} {} Exception java.io.InterruptedIOException: Interruped "
                "while waiting for IO on channel",
                _BLK,
                _int(0, 2),
                by="dfs.DataNode$PacketResponder",
            ),
        ),
    ),
    Format(
        "linux",
        lambda r, i, c: (
            f"{('Jun', 'Jul')[min(1, i * 2 // 3000)]} {1 + (i // 80) % 28:2d} {_hms(i)} combo "
            f"{c}[{r.randint(1000, 30000)}]: "
        ),
        (
            ev(
                "session opened for user {} by (uid={})",
                _user,
                _int(0, 500),
                by=("sshd(pam_unix)", "su(pam_unix)"),
            ),
            ev("session closed for user {}", _user, by=("sshd(pam_unix)", "su(pam_unix)")),
            ev(
                "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={}",
                _host,
                by="sshd(pam_unix)",
            ),
            ev(
                "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={}  "
                "user={}",
                _host,
                _user,
                by="sshd(pam_unix)",
            ),
            ev("check pass; user unknown", by="sshd(pam_unix)"),
            ev(
                "connection from {} ({}) at Sun Jul 17 {}:{}:{} 2005",
                _ip,
                _host,
                _int(10, 23),
                _int(10, 59),
                _int(10, 59),
                by="ftpd",
            ),
            ev(
                "Memory: {}k/{}k available ({}k kernel code, {}k reserved, {}k data, {}k init, {}k "
                "highmem)",
                *(_int(100, 999999) for _ in range(7)),
                by="kernel",
            ),
            ev("cupsd shutdown succeeded", by="cups"),
            ev("cupsd startup succeeded", by="cups"),
            ev("ALERT exited abnormally with [{}]", _int(1, 9), by="logrotate"),
            ev("*** info [startup.c({})]:", _int(10, 200), by="gpm"),
            ev("klogd 1.4.1, log source = /proc/kmsg started.", by="klogd"),
            ev("audit({}:{}): initialized", _int(10**9, 10**10), _int(1, 9), by="kernel"),
        ),
    ),
    Format(
        "openssh",
        lambda r, i, c: f"Dec {10 + i // 400} {_hms(i)} LabSZ sshd[{r.randint(20000, 30000)}]: ",
        (
            ev("Failed password for {} from {} port {} ssh2", _user, _ip, _int(1024, 65535)),
            ev(
                "Failed password for invalid user {} from {} port {} ssh2",
                _user,
                _ip,
                _int(1024, 65535),
            ),
            ev("Invalid user {} from {}", _user, _ip),
            ev("input_userauth_request: invalid user {} [preauth]", _user),
            ev("Accepted password for {} from {} port {} ssh2", _user, _ip, _int(1024, 65535)),
            ev("Received disconnect from {}: 11: Bye Bye [preauth]", _ip),
            ev("Connection closed by {} [preauth]", _ip),
            ev(
                "reverse mapping checking getaddrinfo for {} [{}] failed - POSSIBLE BREAK-IN "
                "ATTEMPT!",
                _host,
                _ip,
            ),
            ev(
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                "rhost={}  user={}",
                _ip,
                _user,
            ),
            ev("pam_unix(sshd:auth): check pass; user unknown"),
            ev(
                "PAM {} more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= "
                "rhost={}  user={}",
                _int(1, 5),
                _ip,
                _user,
            ),
            ev("Disconnecting: Too many authentication failures for {} [preauth]", _user),
            ev(
                "error: Received disconnect from {}: 3: com.jcraft.jsch.JSchException: Auth fail "
                "[preauth]",
                _ip,
            ),
            ev("pam_unix(sshd:session): session opened for user {} by (uid=0)", _user),
            ev("pam_unix(sshd:session): session closed for user {}", _user),
        ),
    ),
    Format(
        "zookeeper",
        lambda r, i, c: (
            f"2015-07-{29 + i // 1000} {_hms(i)},{r.randint(0, 999):03d} - "
            f"{r.choice(['INFO ', 'WARN ', 'ERROR'])} [{c}] - "
        ),
        (
            ev(
                "Notification time out: {}",
                _int(200, 60000),
                by="QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774",
            ),
            ev(
                "Accepted socket connection from /{}",
                _ipport,
                by="NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:NIOServerCnxnFactory@197",
            ),
            ev(
                "Closed socket connection for client /{} which had sessionid 0x{}",
                _ipport,
                _hex(15),
                by="NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:NIOServerCnxn@1001",
            ),
            ev(
                "Closed socket connection for client /{} (no session established for client)",
                _ipport,
                by="NIOServerCxn.Factory:0.0.0.0/0.0.0.0:2181:NIOServerCnxn@1001",
            ),
            ev(
                "Established session 0x{} with negotiated timeout {} for client /{}",
                _hex(15),
                _int(1000, 40000),
                _ipport,
                by="CommitProcessor:1:ZooKeeperServer@595",
            ),
            ev(
                "Interrupted while waiting for message on queue",
                by=(
                    "SendWorker:188978561024:QuorumCnxManager$SendWorker@679",
                    "SendWorker:2:QuorumCnxManager$SendWorker@679",
                ),
            ),
            ev(
                "Connection broken for id {}, my id = {}, error = ",
                _int(1, 3),
                _int(1, 3),
                by="RecvWorker:3:QuorumCnxManager$RecvWorker@762",
            ),
            ev("LOOKING", by="QuorumPeer[myid=2]/0:0:0:0:0:0:0:0:2181:QuorumPeer@670"),
            ev(
                "FOLLOWING - LEADER ELECTION TOOK - {}",
                _int(10, 900),
                by="QuorumPeer[myid=3]/0:0:0:0:0:0:0:0:2181:Follower@63",
            ),
            ev(
                "Processed session termination for sessionid: 0x{}",
                _hex(15),
                by="ProcessThread(sid:3 cport:-1)::PrepRequestProcessor@476",
            ),
        ),
    ),
    Format(
        "apache",
        lambda r, i, c: (
            f"[{r.choice(['Sun', 'Mon', 'Tue'])} Dec {4 + i // 700:02d} {_hms(i)} 2005] [{c}] "
        ),
        (
            ev(
                "jk2_init() Found child {} in scoreboard slot {}",
                _int(1000, 9999),
                _int(6, 12),
                by="notice",
            ),
            ev("workerEnv.init() ok /etc/httpd/conf/workers2.properties", by="notice"),
            ev("mod_jk child workerEnv in error state {}", _int(6, 9), by="error"),
            ev("[client {}] Directory index forbidden by rule: /var/www/html/", _ip, by="error"),
            ev("jk2_init() Can't find child {} in scoreboard", _int(1000, 9999), by="error"),
            ev("mod_jk child init {} {}", _int(0, 1), _int(-2, 0), by="error"),
            ev("Digest: generating secret for digest authentication ...", by="notice"),
            ev("Digest: done", by="notice"),
            ev("[client {}] File does not exist: {}", _ip, _path, by="error"),
        ),
    ),
    Format(
        "bgl",
        lambda r, i, c: (
            f"- {1117838570 + i * 9} 2005.06.{3 + i // 1000:02d} {(node := _bgl_node(r))} "
            f"2005-06-03-15.42.50.{r.randint(0, 999999):06d} {node} RAS {c} "
        ),
        (
            ev("instruction cache parity error corrected", by="KERNEL INFO"),
            ev("data TLB error interrupt", by="KERNEL INFO"),
            ev("{} double-hummer alignment exceptions", _int(1, 9999), by="KERNEL INFO"),
            ev("generating core.{}", _int(1, 9999), by="KERNEL INFO"),
            ev("data storage interrupt", by="KERNEL FATAL"),
            ev("instruction address: 0x{}", _hex(8), by="KERNEL FATAL"),
            ev("CE sym {}, at 0x{}, mask 0x{}", _int(0, 40), _hex(8), _hex(2), by="KERNEL INFO"),
            ev(
                "ciod: failed to read message prefix on control stream (CioStream socket to {}",
                _ipport,
                by="APP FATAL",
            ),
            ev("rts: kernel terminated for reason {}", _int(1000, 1010), by="KERNEL FATAL"),
            ev(
                "total of {} ddr error(s) detected and corrected",
                _int(1, 30),
                by=("KERNEL INFO", "KERNEL WARNING"),
            ),
            ev(
                "idoproxydb hit ASSERT condition: ASSERT expression=0 Source file="
                "idotransportmgr.cpp Source line={} Function=int "
                "IdoTransportMgr::SendPacket(IdoUdpMgr*, "
                "BglCtlPavTrace*)",
                _int(1000, 1200),
                by="MMCS ERROR",
            ),
            ev(
                "machine check interrupt (bit=0x{}): L2 dcache unit data parity error",
                _hex(2),
                by="KERNEL FATAL",
            ),
        ),
    ),
    Format(
        "android",
        lambda r, i, c: (
            f"03-17 {_hms(i)}.{r.randint(0, 999):03d}  {r.randint(1000, 30000)}  "
            f"{r.randint(1000, 30000)} {c}: "
        ),
        (
            ev(
                'acquire lock={}, flags=0x{}, tag="{}", name={}, ws=null, uid={}, pid={}',
                _int(10**6, 10**9),
                _hex(1),
                _pick("View Lock", "*launch*", "WindowManager"),
                _pick("android", "com.tencent.mm", "com.android.phone"),
                _int(1000, 10100),
                _int(1000, 30000),
                by="D PowerManagerService",
            ),
            ev(
                'release:lock={}, flg=0x0, tag="{}", name={}", ws=null, uid={}, pid={}',
                _int(10**6, 10**9),
                _pick("View Lock", "*launch*"),
                _pick("android", "com.tencent.mm"),
                _int(1000, 10100),
                _int(1000, 30000),
                by="D PowerManagerService",
            ),
            ev(
                "Skipping AppWindowToken{{{} token=Token{{{} ActivityRecord{{{} u0 {} t{}}}}}}} -- "
                "going to hide",
                _hex(7),
                _hex(7),
                _hex(7),
                _pick("com.tencent.mm/.ui.LauncherUI", "com.android.settings/.Settings"),
                _int(100, 999),
                by="V WindowManager",
            ),
            ev(
                "Start proc {}:{} for service {}",
                _int(1000, 30000),
                _pick("com.tencent.mm", "com.qihoo.daemon"),
                _pick("a/.B", "c/.D"),
                by="I ActivityManager",
            ),
            ev(
                "Invalid thumbnail dimensions: {}x{}",
                _int(0, 9),
                _int(0, 9),
                by="E ActivityManager",
            ),
            ev(
                "Animating brightness: target={}, rate={}",
                _int(0, 255),
                _int(0, 200),
                by="D DisplayPowerController",
            ),
            ev(
                "setSystemUiVisibility vis={} mask={} oldVal={} newVal={} diff={}",
                *(_hex(8) for _ in range(5)),
                by="I PhoneStatusBar",
            ),
            ev(
                "Unable to start service Intent {{ act={} }} U=0: not found",
                _pick("com.a.b.START", "com.c.d.BIND"),
                by="W ActivityManager",
            ),
            ev(
                "cancelNotificationLocked called, tag={}",
                _pick("null", "abc"),
                by=("I NotificationService", "D NotificationService"),
            ),
        ),
    ),
    Format(
        "healthapp",
        lambda r, i, c: f"2017122{3 + i // 1000}-{_hms(i)}:{r.randint(0, 999)}|{c}|30002312|",
        (
            ev("onStandStepChanged {}", _int(1000, 9999), by="Step_LSC"),
            ev(
                "onExtend:{} {} {} {}",
                _int(10**12, 10**13),
                _int(0, 9),
                _int(0, 9),
                _int(0, 9),
                by="Step_LSC",
            ),
            ev("onReceive action: android.intent.action.SCREEN_ON", by="Step_StandReportReceiver"),
            ev("onReceive action: android.intent.action.SCREEN_OFF", by="Step_StandReportReceiver"),
            ev(
                " getTodayTotalDetailSteps = {}##{}##{}##{}##{}##{}",
                *(_int(0, 99999) for _ in range(6)),
                by="Step_SPUtils",
            ),
            ev(
                "processHandleBroadcastAction action:android.intent.action.TIME_TICK", by="Step_LSC"
            ),
            ev("calculateCaloriesWithCache totalCalories={}", _int(100, 200000), by="Step_ExtSDM"),
            ev("calculateAltitudeWithCache totalAltitude={}", _int(0, 500), by="Step_ExtSDM"),
            ev("flush sensor data", by="Step_StandStepCounter"),
            ev("REPORT : {} {} {} {}", *(_int(0, 9999) for _ in range(4)), by="Step_LSC"),
        ),
    ),
    Format(
        "proxifier",
        lambda r, i, c: f"[10.30 {_hms(i)}] {_prog(r)} - ",
        (
            ev(
                "{} open through proxy {} HTTPS",
                _pick("proxy.cse.cuhk.edu.hk:5070", "www.google.com:443", "play.google.com:443"),
                _pick("proxy.cse.cuhk.edu.hk:5070", "socks.example.net:1080"),
            ),
            ev(
                "{} close, {} bytes sent, {} bytes received, lifetime {}",
                _pick("proxy.cse.cuhk.edu.hk:5070", "ssl.gstatic.com:443"),
                _int(0, 99999),
                _int(0, 99999),
                _pick("00:01", "<1 sec", "02:13", "00:10"),
            ),
            ev(
                "{} error : Could not connect through proxy {} - Proxy server cannot establish a "
                "connection with the target, status code {}",
                _pick("www.example.com:80", "cdn.site.org:443"),
                _pick("proxy.cse.cuhk.edu.hk:5070"),
                _int(400, 599),
            ),
            ev(
                "{} open through proxy {} SOCKS5",
                _pick("a.com:443", "b.org:443"),
                _pick("proxy.cse.cuhk.edu.hk:5070"),
            ),
            ev(
                "{} close, {} bytes ({} KB) sent, {} bytes ({} MB) received, lifetime {}",
                _pick("proxy.cse.cuhk.edu.hk:5070"),
                _int(1000, 9999),
                _float,
                _int(10**6, 10**7),
                _float,
                _pick("00:01", "03:20"),
            ),
        ),
    ),
    Format(
        "openstack",
        lambda r, i, c: (
            f"nova-api.log.1.2017-05-16_13:53:08 2017-05-16 {_hms(i)}.{r.randint(0, 999):03d} "
            f"{r.randint(2000, 30000)} {c} [req-{_uuid(r)} "
            + r.choice([f"{_hex(32)(r)} {_hex(32)(r)} - - -] ", "- - - - -] "])
        ),
        (
            ev(
                '{} "GET /v2/{}/servers/detail HTTP/1.1" status: {} len: {} time: {}',
                _ip,
                _hex(32),
                _pick("200", "404"),
                _int(200, 2000),
                _float,
                by="INFO nova.osapi_compute.wsgi.server",
            ),
            ev(
                '{} "POST /v2/{}/os-server-external-events HTTP/1.1" status: {} len: {} time: {}',
                _ip,
                _hex(32),
                _pick("200"),
                _int(200, 2000),
                _float,
                by="INFO nova.osapi_compute.wsgi.server",
            ),
            ev(
                "[instance: {}] VM {} (Lifecycle Event)",
                _uuid,
                _pick("Started", "Stopped", "Paused", "Resumed"),
                by="INFO nova.compute.manager",
            ),
            ev(
                "[instance: {}] Total memory: {} MB, used: {} MB",
                _uuid,
                _int(1000, 99999),
                _float,
                by="INFO nova.compute.claims",
            ),
            ev(
                "image {} at ({}): checking",
                _uuid,
                _pick("/var/lib/nova/instances/_base/a1b2", "/var/lib/nova/x"),
                by="INFO nova.virt.libvirt.imagecache",
            ),
            ev(
                "Unknown base file: {}",
                _pick("/var/lib/nova/instances/_base/a1b2", "/var/lib/nova/y"),
                by="WARNING nova.virt.libvirt.imagecache",
            ),
            ev(
                "Final resource view: name={} phys_ram={}MB used_ram={}MB phys_disk={}GB "
                "used_disk={}GB total_vcpus={} used_vcpus={} pci_stats=[]",
                _pick("cp-1.slowvm1.tcloud-pg0.utah"),
                *(_int(0, 99999) for _ in range(6)),
                by="INFO nova.compute.resource_tracker",
            ),
            ev(
                "[instance: {}] Took {} seconds to {} the instance on the hypervisor.",
                _uuid,
                _float,
                _pick("spawn", "destroy", "build"),
                by="INFO nova.compute.manager",
            ),
        ),
    ),
    Format(
        "spark",
        lambda r, i, c: f"17/06/09 {_hms(i)} {r.choice(['INFO', 'INFO', 'WARN'])} {c}: ",
        (
            ev(
                "Registered signal handlers for [TERM, HUP, INT]",
                by="executor.CoarseGrainedExecutorBackend",
            ),
            ev("Changing view acls to: {}", _user, by="spark.SecurityManager"),
            ev("Changing modify acls to: {}", _user, by="spark.SecurityManager"),
            ev(
                "Block broadcast_{} stored as values in memory (estimated size {} KB, free {} KB)",
                _int(0, 99),
                _float,
                _float,
                by="storage.MemoryStore",
            ),
            ev(
                "Found block rdd_{}_{} locally", _int(0, 99), _int(0, 99), by="storage.BlockManager"
            ),
            ev(
                "Finished task {} in stage {} (TID {}). {} bytes result sent to driver",
                _float,
                _float,
                _int(0, 9999),
                _int(100, 9999),
                by="executor.Executor",
            ),
            ev(
                "Running task {} in stage {} (TID {})",
                _float,
                _float,
                _int(0, 9999),
                by="executor.Executor",
            ),
            ev(
                "attempt_{}_{}_m_{}_{}: Committed",
                _int(10**11, 10**12),
                _int(0, 9999),
                _int(0, 999999),
                _int(0, 999),
                by="mapred.SparkHadoopMapRedUtil",
            ),
            ev(
                "Reading broadcast variable {} took {} ms",
                _int(0, 99),
                _int(1, 999),
                by="broadcast.TorrentBroadcast",
            ),
            ev(
                "Created local directory at {}",
                _pick("/opt/hdfs/nodemanager/usercache/curi/appcache/a/b", "/tmp/blockmgr-x"),
                by="storage.DiskBlockManager",
            ),
            ev(
                "Successfully started service '{}' on port {}.",
                _pick("sparkExecutorActorSystem", "org.apache.spark.network.netty"),
                _int(1024, 65535),
                by="util.Utils",
            ),
        ),
    ),
    Format(
        "windows",
        lambda r, i, c: (
            f"2016-09-28 {_hms(i)}, {r.choice(['Info', 'Info', 'Warning'])}                  "
            f"{c}    "
        ),
        (
            ev(
                "Loaded Servicing Stack v6.1.7601.23505 with Core: C:\\Windows\\winsxs\\amd64_"
                "microsoft-windows-servicingstack_31bf3856ad364e35\\cbscore.dll",
                by="CBS",
            ),
            ev(
                "{} CSI Transaction @0x{} initialized for deployment engine {{d16d444c-56d8-11d5-"
                '882d-0080c847b195}} with flags 0x{} and client id [{}]"TI5.{}:{}/"',
                _hex(8),
                _hex(12),
                _hex(8),
                _int(10, 99),
                _int(10**9, 10**10),
                _int(1, 9),
                by="CSI",
            ),
            ev("Starting TrustedInstaller initialization.", by="CBS"),
            ev("Ending TrustedInstaller initialization.", by="CBS"),
            ev("Starting the TrustedInstaller main loop.", by="CBS"),
            ev("TrustedInstaller service starts successfully.", by="CBS"),
            ev("SQM: Initializing online with Windows opt-in: False", by="CBS"),
            ev("SQM: Cleaning up report files older than {} days.", _int(1, 30), by="CBS"),
            ev(
                "Read out cached package applicability for package: {}, ApplicableState: {}, "
                "CurrentState:{}",
                _pick(
                    "Package_for_KB2984972~31bf3856ad364e35~amd64~~6.1.1.3",
                    "Package_for_KB3123479~31bf3856ad364e35~amd64~~6.1.1.0",
                ),
                _int(0, 112),
                _int(0, 112),
                by="CBS",
            ),
            ev("Warning: Unrecognized packageExtended attribute.", by="CBS"),
            ev(
                "Failed to internally open package. [HRESULT = 0x{} - CBS_E_INVALID_PACKAGE]",
                _hex(8),
                by="CBS",
            ),
        ),
    ),
)

BY_NAME = {f.name: f for f in FORMATS}


def corpus(
    name: str, lines: int = 2000, seed: int = 0, *, headers: bool = True
) -> list[tuple[str, str]]:
    """`lines` labelled lines of format `name`: (line, event), events Zipf-distributed.

    With `headers=False` the lines are the content alone (what a structured source delivers).
    """
    fmt = BY_NAME[name]
    rng = random.Random(f"{name}/{seed}")
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(fmt.events))]
    order = list(range(len(fmt.events)))
    rng.shuffle(order)
    out = []
    for i in range(lines):
        index = rng.choices(order, weights)[0]
        event = fmt.events[index]
        text = event.content.format(*(slot(rng) for slot in event.slots))
        if headers:
            text = fmt.header(rng, i, rng.choice(event.components)) + text
        out.append((text, f"{name}:E{index + 1}"))
    return out


def grouping_accuracy(truth: Sequence[str], parsed: Sequence[str]) -> float:
    """Share of lines whose parsed group holds exactly the lines of their true event (loghub GA)."""
    if len(truth) != len(parsed):
        raise ValueError("truth and parsed must label the same lines")
    if not truth:
        return 1.0
    truth_sizes = Counter(truth)
    by_parsed: dict[str, list[str]] = defaultdict(list)
    for t, p in zip(truth, parsed, strict=True):
        by_parsed[p].append(t)
    correct = 0
    for members in by_parsed.values():
        if len(set(members)) == 1 and truth_sizes[members[0]] == len(members):
            correct += len(members)
    return correct / len(truth)


def names() -> Iterable[str]:
    """Names of the available formats."""
    return BY_NAME.keys()
