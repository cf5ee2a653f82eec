#Requires -RunAsAdministrator
<#
.SYNOPSIS
Installs (or with -Uninstall removes) the Caseguard agent on this Windows machine.

.DESCRIPTION
Two parts, like on Linux and macOS:
  * the system part, `caseguard-agent.exe run`, as the Windows service "CaseguardAgent"
    (LocalSystem, automatic start, restarted on failure). caseguard-agent.exe is a console
    program and does not speak the Service Control Manager's protocol, so the service binary
    is a service host (WinSW 2.x, renamed caseguard-agent-service.exe) configured by
    caseguard-agent-service.xml, which runs caseguard-agent.exe and restarts it;
  * the per-user session part, `caseguard-agent.exe session`, as the scheduled task
    "\Caseguard\Caseguard agent session", started at every user's logon in that user's own
    interactive session (caseguard-agent-session.xml explains why it cannot be a service).

Expects in -InstallDir: caseguard-agent.exe, caseguard-agent-service.exe,
caseguard-agent-service.xml and caseguard-agent-session.xml; and the configuration at
C:\ProgramData\Caseguard\agent.toml with the device certificate beside it.

.EXAMPLE
.\install-agent.ps1
.\install-agent.ps1 -Uninstall
#>
[CmdletBinding()]
param(
    [string]$InstallDir = "C:\Program Files\Caseguard",
    [switch]$Uninstall
)

$ErrorActionPreference = "Stop"
Set-StrictMode -Version Latest

$ServiceName = "CaseguardAgent"
$TaskPath = "\Caseguard\"
$TaskName = "Caseguard agent session"
$DataDir = "C:\ProgramData\Caseguard"

function Invoke-Sc {
    # sc.exe reports failure only through its exit code.
    & sc.exe @args | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "sc.exe $($args -join ' ') failed with exit code $LASTEXITCODE" }
}

if ($Uninstall) {
    Unregister-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName -Confirm:$false -ErrorAction SilentlyContinue
    if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
        Stop-Service -Name $ServiceName -ErrorAction SilentlyContinue
        Invoke-Sc delete $ServiceName
    }
    Write-Host "Caseguard agent removed; $DataDir (configuration, device key, outbox) is left in place."
    return
}

foreach ($file in "caseguard-agent.exe", "caseguard-agent-service.exe", "caseguard-agent-service.xml", "caseguard-agent-session.xml") {
    if (-not (Test-Path -LiteralPath (Join-Path $InstallDir $file))) { throw "missing $InstallDir\$file" }
}
if (-not (Test-Path -LiteralPath "$DataDir\agent.toml")) { throw "missing $DataDir\agent.toml (see deploy\agent.example.toml)" }

# The data folder holds the device key and the outbox: SYSTEM and Administrators only, not
# inherited from ProgramData (where every user may read). The session part runs as each user
# and needs to read agent.toml...
New-Item -ItemType Directory -Force -Path "$DataDir\logs" | Out-Null
& icacls.exe $DataDir /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F" | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls on $DataDir failed" }
& icacls.exe "$DataDir\agent.toml" /grant "*S-1-5-32-545:R" | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls on $DataDir\agent.toml failed" }
# ...and what the system part hands it, in state\session: the central lock policy, the lockdown
# of a laptop reported lost, and the case-file notices. Users may read that folder (inherited by
# the files the agent replaces in it) and nothing else in state. They reach it without rights on
# its parents: Windows grants every user "bypass traverse checking".
$Handoff = Join-Path $DataDir "state\session"
New-Item -ItemType Directory -Force -Path $Handoff | Out-Null
& icacls.exe $Handoff /grant "*S-1-5-32-545:(OI)(CI)RX" | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls on $Handoff failed" }

# The system part: LocalSystem, so it can read every user's profile (personal cloud folders)
# and removable volumes, and query BitLocker.
if (-not (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue)) {
    New-Service -Name $ServiceName `
        -BinaryPathName "`"$InstallDir\caseguard-agent-service.exe`"" `
        -DisplayName "Caseguard agent" `
        -Description "Caseguard endpoint safeguards: egress of case files, disk encryption posture, durable delivery to the collector." `
        -StartupType Automatic | Out-Null
}
# Recovery if the service host itself dies: restart after 5 s, 30 s, then every 60 s; the
# failure count resets after a day. failureflag 1 also applies the actions when the service
# stops with an error code, not only when it crashes.
Invoke-Sc failure $ServiceName reset= 86400 actions= restart/5000/restart/30000/restart/60000
Invoke-Sc failureflag $ServiceName 1
# A per-service SID, so the data folder can be granted to this service alone if wanted.
Invoke-Sc sidtype $ServiceName unrestricted
Start-Service -Name $ServiceName

# The session part: a logon task for every user, run in their interactive session.
$xml = Get-Content -LiteralPath (Join-Path $InstallDir "caseguard-agent-session.xml") -Raw -Encoding UTF8
$xml = $xml.Replace("C:\Program Files\Caseguard", $InstallDir)
Register-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName -Xml $xml -Force | Out-Null

Write-Host "Caseguard agent installed: service $ServiceName is running; the session part starts at each user's next logon."
