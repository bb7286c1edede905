<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="zh_CN">
  <context>
    <name>cli</name>
    <message>
      <source>标准输入中缺少PIN码（每行一个）。</source>
      <translation>PIN missing on standard input (one per line).</translation>
    </message>
    <message>
      <source>PIN码只能从标准输入读取：请加上 --pin-stdin。</source>
      <translation>The PIN can only be read from standard input: add --pin-stdin.</translation>
    </message>
    <message>
      <source>设备已设置：{device_id}</source>
      <translation>Device set up: {device_id}</translation>
    </message>
    <message>
      <source>注意：本机没有可用的系统密钥库，设备密钥保存在数据目录的文件中，防护较弱。</source>
      <translation>Warning: no system keyring is available on this machine; the device secret is kept in a file in the data directory, which is less protected.</translation>
    </message>
    <message>
      <source>程序版本：{v}</source>
      <translation>App version: {v}</translation>
    </message>
    <message>
      <source>数据目录：{d}</source>
      <translation>Data directory: {d}</translation>
    </message>
    <message>
      <source>设备编号：{d}</source>
      <translation>Device ID: {d}</translation>
    </message>
    <message>
      <source>密钥库：{k}</source>
      <translation>Keyring: {k}</translation>
    </message>
    <message>
      <source>解锁前连续输错PIN码次数：{n}</source>
      <translation>Wrong PINs in a row before this unlock: {n}</translation>
    </message>
    <message>
      <source>数据库版本：{v}</source>
      <translation>Database schema version: {v}</translation>
    </message>
    <message>
      <source>记录 {kind}：{n}</source>
      <translation>Records {kind}: {n}</translation>
    </message>
    <message>
      <source>待上传：{n}</source>
      <translation>Pending uploads: {n}</translation>
    </message>
    <message>
      <source>审计日志完整：共{n}条。</source>
      <translation>Audit log intact: {n} entries.</translation>
    </message>
    <message>
      <source>审计日志已被篡改：第{seq}条起无法验证（{reason}）。</source>
      <translation>The audit log has been tampered with: entry {seq} onwards cannot be verified ({reason}).</translation>
    </message>
    <message>
      <source>已导出{n}条审计记录到 {f}</source>
      <translation>Exported {n} audit entries to {f}</translation>
    </message>
    <message>
      <source>PIN码已更改。</source>
      <translation>PIN changed.</translation>
    </message>
  </context>
  <context>
    <name>errors</name>
    <message>
      <source>发生了未知错误。</source>
      <translation>An unknown error occurred.</translation>
    </message>
    <message>
      <source>本设备尚未设置，请先设置PIN码。</source>
      <translation>This device has not been set up yet. Please set a PIN first.</translation>
    </message>
    <message>
      <source>本设备已经设置过，不能重复设置。</source>
      <translation>This device is already set up and cannot be set up again.</translation>
    </message>
    <message>
      <source>本设备的数据已被销毁（连续输错PIN码或远程擦除），需要重新设置。</source>
      <translation>The data on this device has been destroyed (too many wrong PINs or a remote wipe). The device must be set up again.</translation>
    </message>
    <message>
      <source>PIN码错误。还可以尝试{attempts_left}次，之后本设备的数据将被销毁。</source>
      <translation>Wrong PIN. {attempts_left} attempts left before the data on this device is destroyed.</translation>
    </message>
    <message>
      <source>PIN码错误次数过多，请{wait_seconds}秒后再试。</source>
      <translation>Too many wrong PINs. Please try again in {wait_seconds} seconds.</translation>
    </message>
    <message>
      <source>PIN码必须是至少6位数字。</source>
      <translation>The PIN must be at least 6 digits.</translation>
    </message>
    <message>
      <source>两次输入的PIN码不一致，请重新输入。</source>
      <translation>The two PINs do not match. Please enter them again.</translation>
    </message>
    <message>
      <source>无法读取设备密钥：{reason}</source>
      <translation>Cannot read the device key: {reason}</translation>
    </message>
    <message>
      <source>设备密钥文件已损坏，无法解锁：{reason}</source>
      <translation>The device key file is damaged, so the device cannot be unlocked: {reason}</translation>
    </message>
    <message>
      <source>文件“{blob_id}”已损坏或被篡改，无法打开。其他数据不受影响。</source>
      <translation>The file "{blob_id}" is damaged or has been tampered with and cannot be opened. Other data is not affected.</translation>
    </message>
    <message>
      <source>找不到文件“{blob_id}”。</source>
      <translation>The file "{blob_id}" cannot be found.</translation>
    </message>
    <message>
      <source>数据库无法打开：密钥不正确或文件已损坏。</source>
      <translation>The database cannot be opened: the key is wrong or the file is damaged.</translation>
    </message>
    <message>
      <source>数据库版本（{found}）比本程序支持的版本（{supported}）新，请升级程序。</source>
      <translation>The database version ({found}) is newer than this program supports ({supported}). Please update the program.</translation>
    </message>
    <message>
      <source>数据库升级到第{version}版失败，数据已保持原样。备份在：{backup}</source>
      <translation>Upgrading the database to version {version} failed; the data was left as it was. Backup: {backup}</translation>
    </message>
  </context>
</TS>