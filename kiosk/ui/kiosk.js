/* The kiosk screen: one decision per screen, visible progress, Chinese with English switchable, spoken
   guidance where the browser can speak, choices instead of typing, no time pressure (the idle timeout
   warns and extends), and a clear screen when the network drops. It talks only to the device
   (/kiosk/device/…); the device signs every call to the server and keeps the session. */
"use strict";

const TEXT = {
  zh: {
    brand: "跨省通办 · 自助服务", language: "English", large: "大字模式", help: "请工作人员帮办", exit: "退出",
    insertTitle: "请插入您的身份证", insertHint: "把身份证放在下方的读卡区，不用取出。读到后会自动进入下一步。",
    simulator: "模拟读卡器（仅开发环境）", insertCard: (n) => `插入 ${n} 的身份证`, removeCard: "取出身份证",
    stepOf: (i, n, what) => `第 ${i} 步，共 ${n} 步：${what}`,
    faceStep: "刷脸核验", faceTitle: (n) => `${n}，请正对镜头`,
    faceHint: "请摘下帽子和口罩，正对屏幕上方的镜头，保持不动。准备好后请按下面的按钮。",
    faceSpeak: "请正对镜头，保持不动，然后按拍照核验按钮。", takePhoto: "拍照核验", checking: "正在核验，请稍候……",
    cameraMissing: "没有找到镜头。请请工作人员协助。",
    faceFailed: "没有通过核验", tryAgain: "再试一次", attemptsLeft: (n) => `本小时还可以再试 ${n} 次。`,
    menuTitle: (n) => `您好，${n}`, menuHint: "请选择要办理的事情：",
    taskCertificates: "我的证照", taskCertificatesHint: "查看和打印电子证照",
    taskPension: "养老金资格认证", taskPensionHint: "每年一次，证明本人健在",
    taskApply: "跨省办事申请", taskApplyHint: "提交申请和材料",
    taskCases: "我的办件", taskCasesHint: "查看进度、补交材料",
    taskEnrol: "登记人像", taskEnrolHint: "用身份证照片登记，以后可刷脸办事",
    back: "返回", certificatesTitle: "我的证照", noCertificates: "您还没有电子证照。",
    statusWord: { valid: "有效", expired: "已过期", revoked: "已撤销", "not-yet-valid": "尚未生效", "key-withdrawn": "已失效" },
    validUntil: (d) => `有效期至 ${d}`, print: "打印这份证照", number: "证照编号", issuer: "签发机关", holder: "持证人",
    printStep: "打印", printTitle: "正在打印", printQueued: "已提交打印，请稍候……",
    printWaitingPaper: "打印机缺纸", printWaitingPaperHint: "您的打印任务已保留。请联系工作人员加纸，加纸后会自动打印，不需要重新操作。",
    printWaitingOther: "打印机暂时不能使用", printDone: "打印完成", printDoneHint: "请从下方出纸口取走您的证照。",
    printFailed: "打印没有成功", printFailedHint: "请请工作人员协助。",
    enrolTitle: "用身份证照片登记人像", enrolHint: "登记后，您以后可以刷脸办事。人像只用于核验您本人，您可以随时撤回。是否同意？",
    agree: "同意登记", decline: "暂不登记", enrolled: "人像已登记", enrolledHint: "以后可以刷脸办事了。",
    idle: (s) => `您还在吗？${s} 秒后将自动退出。`, stay: "继续办理",
    endedTitle: "已安全退出", endedCard: "身份证已取出，已安全退出。", endedIdle: "因长时间没有操作，已自动退出。",
    endedAssistant: "协助您的工作人员已不能继续代办，为保护您的信息已退出。请重新插入身份证登录。",
    endedSignedOut: "您已退出，办理的事情都已保存。", endedHint: "请取回您的身份证。欢迎再次使用。", endedDone: "好的",
    offlineTitle: "网络连接中断", offlineHint: "刚才的操作没有提交，不会留下办了一半的事情。网络恢复后请重新开始。",
    retry: "重新连接", helpAsked: "已通知工作人员，请稍候。",
    errorTitle: "出了点问题", errorHint: "请再试一次，或请工作人员协助。",
    pensionNotOnRoster: "系统中没有您领取养老金的记录。如有疑问，请到社保服务窗口咨询。",
    pensionTitle: "养老金资格认证", pensionNextDue: (d) => `下次认证截止日期：${d}`, pensionStart: "开始刷脸认证",
    pensionNotReady: "现在还不能刷脸认证", consentTitle: "同意用人脸识别认证养老金资格",
    consentHint: "认证时会拍下您的面部动作，与您登记的人像比对，只用于这次认证。不同意也可以到窗口认证或预约上门。",
    livenessStep: "动作认证", livenessFront: "请正对镜头，保持不动", livenessBack: "请回到正对镜头",
    livenessHold: "很好，请保持", livenessSending: "正在认证，请稍候……",
    recognised: "认证成功", recognisedHint: (d) => `下次请在 ${d} 之前认证。`, printRecord: "打印认证凭证",
    applyTitle: "请选择要申请的事项", applyNone: "您现在没有可以在这里自助申请的事项。请到服务窗口办理。",
    more: "下一页", previous: "上一页", applyStep: "申请", questionStep: "填写", materialStep: "材料", confirmStep: "确认",
    phoneTitle: "请输入您的手机号码", phoneHint: "用于通知办理进度。", keypadDelete: "删除", ok: "确定",
    materialHint: "请把这份材料正面朝下放在扫描区，然后按“扫描”。", scan: "扫描", scanning: "正在扫描，请稍候……",
    scanAgain: "重新扫描", useScan: "使用这份", scanned: (n) => `已扫描 ${n} 页`, skip: "跳过（这份材料不是必需的）",
    useCertificate: (n) => `使用我的电子证照：${n}`,
    scanNothing: "扫描区没有材料。请把材料正面朝下放好，再按“扫描”。", scanJam: "扫描仪卡纸，请请工作人员协助。",
    scanOffline: "扫描仪暂时不能使用，请请工作人员协助。", scanRefused: "这份扫描件不能作为材料：",
    confirmTitle: "请确认您的申请", submit: "提交申请", submitted: "申请已提交",
    submittedHint: (n) => `申请编号 ${n}。您可以在“我的办件”查看进度。`, printReceipt: "打印回执",
    viaCertificate: "电子证照", viaScan: "扫描件",
    casesTitle: "我的办件", noCases: "您还没有办件。", caseNumber: "编号", caseState: "状态", caseDeadline: "办结期限",
    caseDue: (d, n) => `${d}（${n} 个工作日）`, caseDueLater: (n) => `受理后 ${n} 个工作日`,
    supplementAsked: "需要补交材料", supplementStart: "补交材料", supplementDone: "材料已补交",
    supplementDoneHint: "办理地会继续审查，请留意进度。", caseProgress: "办理进度",
    assistTitle: "请工作人员帮办", assistHint: "请服务窗口的工作人员用本人账号登录，代您操作。登录后，每一步都会记下您和这位工作人员。",
    assistUser: "工作人员用户名", assistPassword: "密码", assistStart: "开始帮办", assistSpeak: "请工作人员输入用户名和密码。",
    assistBusy: "正在核对，请稍候……", assistMissing: "请填写用户名和密码。",
    assistWrong: "用户名或密码不正确，请重新输入。", assistNotHere: "这位工作人员不能在这台终端帮办：只有本地服务窗口的工作人员可以。",
    assistTooMany: "尝试次数太多，请稍后再试。",
    assisted: (n) => `帮办中：${n}`, assistStarted: (n) => `${n} 开始为您帮办。`, assistEnd: "结束帮办",
    assistEnded: "帮办已结束，您可以继续自己办理。", assistNow: (n) => `现在由 ${n} 为您帮办。`,
  },
  en: {
    brand: "Cross-province services · Self-service", language: "中文", large: "Large text", help: "Staff assistance", exit: "Exit",
    insertTitle: "Please insert your ID card", insertHint: "Place your ID card on the reader below and leave it there. The next step starts by itself.",
    simulator: "Card reader simulator (development only)", insertCard: (n) => `Insert ${n}'s ID card`, removeCard: "Remove the ID card",
    stepOf: (i, n, what) => `Step ${i} of ${n}: ${what}`,
    faceStep: "Face check", faceTitle: (n) => `${n}, please face the camera`,
    faceHint: "Take off hat and mask, look at the camera above the screen and hold still. Press the button when ready.",
    faceSpeak: "Please face the camera, hold still, then press the button.", takePhoto: "Take photo and check", checking: "Checking, please wait…",
    cameraMissing: "No camera was found. Please ask staff for help.",
    faceFailed: "The check did not pass", tryAgain: "Try again", attemptsLeft: (n) => `You can try ${n} more times this hour.`,
    menuTitle: (n) => `Hello, ${n}`, menuHint: "Please choose what you want to do:",
    taskCertificates: "My certificates", taskCertificatesHint: "View and print e-certificates",
    taskPension: "Pension eligibility", taskPensionHint: "Once a year, confirm you are alive",
    taskApply: "Apply for a service", taskApplyHint: "Submit an application with documents",
    taskCases: "My applications", taskCasesHint: "Progress, missing documents",
    taskEnrol: "Register my face", taskEnrolHint: "From the ID card photo, for face checks later",
    back: "Back", certificatesTitle: "My certificates", noCertificates: "You have no e-certificates yet.",
    statusWord: { valid: "Valid", expired: "Expired", revoked: "Revoked", "not-yet-valid": "Not yet valid", "key-withdrawn": "No longer valid" },
    validUntil: (d) => `Valid until ${d}`, print: "Print this certificate", number: "Number", issuer: "Issued by", holder: "Holder",
    printStep: "Printing", printTitle: "Printing", printQueued: "Sent to the printer, please wait…",
    printWaitingPaper: "The printer is out of paper", printWaitingPaperHint: "Your print job is kept. Please ask staff to add paper; it prints by itself afterwards.",
    printWaitingOther: "The printer cannot print right now", printDone: "Printed", printDoneHint: "Please take your certificate from the tray below.",
    printFailed: "Printing failed", printFailedHint: "Please ask staff for help.",
    enrolTitle: "Register your face from the ID card photo", enrolHint: "Afterwards you can use face checks. The photo is only used to check it is you; you can withdraw at any time. Do you agree?",
    agree: "I agree", decline: "Not now", enrolled: "Your face is registered", enrolledHint: "You can use face checks from now on.",
    idle: (s) => `Are you still there? You will be signed out in ${s} seconds.`, stay: "Continue",
    endedTitle: "Signed out safely", endedCard: "The ID card was removed; you are signed out.", endedIdle: "Signed out after a long time without a touch.",
    endedAssistant: "The staff member helping you can no longer act for you, so you are signed out to keep your data safe. Insert your ID card to sign in again.",
    endedSignedOut: "You are signed out; everything you did is saved.", endedHint: "Please take your ID card. Welcome back any time.",
    endedDone: "OK",
    offlineTitle: "The network is down", offlineHint: "Nothing was submitted; nothing is left half done. Please start again when the network is back.",
    retry: "Reconnect", helpAsked: "Staff have been called, please wait.",
    errorTitle: "Something went wrong", errorHint: "Please try again, or ask staff for help.",
    pensionNotOnRoster: "No paying agency lists you as a pensioner. Please ask at a social-insurance window.",
    pensionTitle: "Pension eligibility", pensionNextDue: (d) => `Next recognition due by ${d}`, pensionStart: "Start the face check",
    pensionNotReady: "The face check is not possible yet", consentTitle: "Agree to face recognition for your pension",
    consentHint: "Your head movements are filmed and compared with your registered face, only for this recognition. Without it you can use a window or book a home visit.",
    livenessStep: "Movements", livenessFront: "Please face the camera and hold still", livenessBack: "Please face the camera again",
    livenessHold: "Good, hold still", livenessSending: "Checking, please wait…",
    recognised: "Recognised", recognisedHint: (d) => `Please come again before ${d}.`, printRecord: "Print the record",
    applyTitle: "Please choose what to apply for", applyNone: "Nothing can be applied for here by yourself right now. Please go to a service window.",
    more: "Next page", previous: "Previous page", applyStep: "Apply", questionStep: "Question", materialStep: "Document", confirmStep: "Confirm",
    phoneTitle: "Please enter your mobile number", phoneHint: "For messages about the progress.", keypadDelete: "Delete", ok: "OK",
    materialHint: "Place this document face down on the scanner, then press Scan.", scan: "Scan", scanning: "Scanning, please wait…",
    scanAgain: "Scan again", useScan: "Use this scan", scanned: (n) => `${n} page(s) scanned`, skip: "Skip (this document is optional)",
    useCertificate: (n) => `Use my e-certificate: ${n}`,
    scanNothing: "Nothing is on the scanner. Place the document face down and press Scan again.", scanJam: "The scanner is jammed. Please ask staff for help.",
    scanOffline: "The scanner cannot be used right now. Please ask staff for help.", scanRefused: "This scan cannot be used: ",
    confirmTitle: "Please check your application", submit: "Submit", submitted: "Application submitted",
    submittedHint: (n) => `Number ${n}. Follow it under “My applications”.`, printReceipt: "Print the receipt",
    viaCertificate: "e-certificate", viaScan: "scan",
    casesTitle: "My applications", noCases: "You have no applications yet.", caseNumber: "Number", caseState: "State", caseDeadline: "Due",
    caseDue: (d, n) => `${d} (${n} working days)`, caseDueLater: (n) => `${n} working days after acceptance`,
    supplementAsked: "Documents are asked for", supplementStart: "Hand in the documents", supplementDone: "Documents handed in",
    supplementDoneHint: "The handling office continues its review; follow the progress here.", caseProgress: "Progress",
    assistTitle: "Staff assistance", assistHint: "A member of the service window's staff signs in with their own account and operates the kiosk for you. Every step is then recorded with both your name and theirs.",
    assistUser: "Staff username", assistPassword: "Password", assistStart: "Start assisting", assistSpeak: "Staff, please enter your username and password.",
    assistBusy: "Checking, please wait…", assistMissing: "Please enter the username and the password.",
    assistWrong: "Wrong username or password. Please try again.", assistNotHere: "This staff member cannot assist at this kiosk: only window staff of this area can.",
    assistTooMany: "Too many attempts. Please try again later.",
    assisted: (n) => `Assisted by ${n}`, assistStarted: (n) => `${n} is now assisting you.`, assistEnd: "End assistance",
    assistEnded: "Assistance ended; you can carry on by yourself.", assistNow: (n) => `${n} is assisting you.`,
  },
};

// lastActive: when the server last heard from the session (a request it answered); it measures the idle
// timeout from there, so the screen's countdown does too.
const state = { lang: "zh", large: false, session: null, device: null, screen: null, lastActive: Date.now(),
                lastPing: 0, stream: null, job: null, idleShown: false, assistChanges: 0 };
const $ = (id) => document.getElementById(id);
const t = (key, ...args) => { const v = TEXT[state.lang][key]; return typeof v === "function" ? v(...args) : v; };

class Offline extends Error {}

async function call(path, options = {}) {
  let response;
  const sent = Date.now();
  try {
    response = await fetch("/kiosk/device/" + path, options);
  } catch (error) {
    throw new Offline(String(error));
  }
  if ((path.startsWith("api/") || path === "sign-in") && response.ok) state.lastActive = Math.max(state.lastActive, sent);
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : null;
  return { status: response.status, ok: response.ok, body };
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick") node.addEventListener("click", v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const child of children.flat(Infinity)) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function say(text) {
  if (!("speechSynthesis" in window)) return;
  try {
    window.speechSynthesis.cancel();
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = state.lang === "zh" ? "zh-CN" : "en-US";
    utterance.rate = 0.85;
    window.speechSynthesis.speak(utterance);
  } catch (_) { /* speech is a help, never a requirement */ }
}

function show(name, progress, ...content) {
  stopCamera();
  state.screen = name;
  const main = $("screen");
  main.replaceChildren(...content);
  main.dataset.screen = name;
  delete main.dataset.page;
  $("progress").textContent = progress || "";
  $("exit").hidden = !state.session;
  assistedBanner();
  main.focus();
}

function button(label, action, kind = "primary", extra = {}) {
  return el("button", { type: "button", class: kind, onclick: action, ...extra }, label);
}

function maskedName(name) { return name ? name[0] + "*".repeat(Math.max(1, name.length - 1)) : ""; }

function chrome() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  $("brand").textContent = t("brand");
  $("language").textContent = t("language");
  $("language").setAttribute("lang", state.lang === "zh" ? "en" : "zh-CN");
  $("large").textContent = t("large");
  $("large").setAttribute("aria-pressed", String(state.large));
  $("help").textContent = t("help");
  $("exit").textContent = t("exit");
  $("stay").textContent = t("stay");
  $("end-assist").textContent = t("assistEnd");
  assistedBanner();
}

// While a staff member assists, every screen says who, above the screen's own content.
function assistedBanner() {
  const assistant = state.session && state.session.assistant;
  $("assisted").hidden = !assistant;
  $("assisted-text").textContent = assistant ? t("assisted", assistant.display_name) : "";
}

// -- screens ------------------------------------------------------------------------------------------

async function welcome() {
  state.session = null;
  const content = [el("h1", {}, t("insertTitle")), el("p", { class: "hint" }, t("insertHint"))];
  if (state.device && state.device.simulator) {
    const { body: cards } = await call("simulator/cards");
    content.push(el("details", { class: "simulator" }, el("summary", {}, t("simulator")),
      el("ul", {}, (cards || []).map((card) => el("li", {}, button(t("insertCard", card.name), () => insertCard(card.key), "secondary", { "data-card": card.key }))))));
  }
  show("welcome", "", ...content);
}

async function insertCard(key) {
  await call("simulator/card", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ card: key }) });
  await poll();
}

async function faceCheck(problem) {
  const name = state.device.card ? maskedName(state.device.card.name) : "";
  const video = el("video", { autoplay: "", playsinline: "", muted: "", "aria-label": t("faceStep") });
  const status = el("div", { "aria-live": "assertive" });
  if (problem) status.append(problemNotice(problem));
  const take = button(t("takePhoto"), () => capture(video, take, status), "primary", { id: "take-photo" });
  show("face", t("stepOf", 1, 2, t("faceStep")), el("h1", {}, t("faceTitle", name)),
       el("div", { class: "camera" }, video, el("div", {}, el("p", {}, t("faceHint")), status,
                                                 el("div", { class: "actions" }, take))));
  say(problem ? reasonText(problem) : t("faceSpeak"));
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    video.srcObject = state.stream;
  } catch (_) {
    status.replaceChildren(el("p", { class: "notice warn" }, t("cameraMissing")));
    say(t("cameraMissing"));
  }
}

function stopCamera() {
  if (state.stream) { state.stream.getTracks().forEach((track) => track.stop()); state.stream = null; }
}

function reasonText(problem) {
  const reasons = (problem && problem.reasons) || [];
  return reasons.length ? reasons.map((r) => r[state.lang] || r.zh).join(" ") : t("errorHint");
}

function problemNotice(problem) {
  const left = problem.attempts_left;
  return el("div", { class: "notice warn", role: "alert" }, el("strong", {}, "⚠ " + t("faceFailed")),
            el("span", {}, reasonText(problem)), left !== undefined && left !== null ? el("p", {}, t("attemptsLeft", left)) : "");
}

async function capture(video, take, status) {
  if (!video.videoWidth) return;
  take.disabled = true;
  status.replaceChildren(el("p", {}, t("checking")));
  say(t("checking"));
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);  // as the camera sees it: not mirrored
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
  const form = new FormData();
  form.append("photo", blob, "live.jpg");
  const answer = await call("sign-in", { method: "POST", body: form });
  if (answer.status === 201) {
    state.session = answer.body;
    touch(true);
    return menu();
  }
  faceCheck(answer.body || {});
}

async function menu() {
  const enabled = (state.device.configuration.enabled_tasks) || ["certificates", "pension", "apply", "cases"];
  const tasks = [["certificates", "taskCertificates", "taskCertificatesHint", certificates],
                 ["pension", "taskPension", "taskPensionHint", pension],
                 ["apply", "taskApply", "taskApplyHint", () => applyItems()],
                 ["cases", "taskCases", "taskCasesHint", () => myCases()]].filter(([key]) => enabled.includes(key));
  if (!state.session.resident.face_enrolled) tasks.push(["enrol", "taskEnrol", "taskEnrolHint", () => enrolOffer()]);
  const name = maskedName(state.session.resident.name);
  show("menu", "", el("h1", {}, t("menuTitle", name)), el("p", {}, t("menuHint")),
       el("ul", { class: "choices" }, tasks.map(([key, title, hint, go]) =>
         el("li", {}, button([title && t(title), el("small", {}, t(hint))], go, "primary", { "data-task": key })))));
  say(t("menuTitle", name) + "。" + t("menuHint"));
}

async function certificates() {
  const answer = await call("api/me/certificates");
  if (!answer.ok) return failed(answer);
  const items = answer.body;
  const list = items.length ? el("ul", { class: "choices" }, items.map((c) => el("li", {},
    button([c.type_name, el("small", {}, `${t("statusWord")[c.status]} · ${t("validUntil", c.expires_at.slice(0, 10))}`)],
           () => certificate(c.id), "secondary", { "data-certificate": c.number }))))
    : el("p", { class: "notice" }, t("noCertificates"));
  show("certificates", "", el("h1", {}, t("certificatesTitle")), list,
       el("div", { class: "actions" }, button(t("back"), menu, "secondary")));
}

async function certificate(id) {
  const answer = await call(`api/me/certificates/${id}`);
  if (!answer.ok) return failed(answer);
  const c = answer.body;
  const rows = [[t("holder"), c.holder.name], [t("number"), c.number], [t("issuer"), c.authority_name],
                [t("validUntil", ""), `${c.expires_at.slice(0, 10)} (${t("statusWord")[c.status]})`]];
  show("certificate", "", el("h1", {}, c.type_name),
       el("dl", { class: "fields" }, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
       el("div", { class: "actions" }, button(t("print"), () => printDocument("certificate", id), "primary", { id: "print" }),
          button(t("back"), certificates, "secondary")));
}

async function printDocument(kind, id) {
  const key = (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random();
  const answer = await call("api/print-jobs", { method: "POST", headers: { "content-type": "application/json", "idempotency-key": key },
                                                body: JSON.stringify({ document_kind: kind, document_id: id }) });
  if (!answer.ok) return failed(answer);
  state.job = answer.body.id;
  printing(answer.body);
}

function printing(job) {
  const [title, hint, kind] = job.status === "printed" ? [t("printDone"), t("printDoneHint"), "ok"]
    : job.status === "waiting" && job.waiting_reason === "out-of-paper" ? ["⚠ " + t("printWaitingPaper"), t("printWaitingPaperHint"), "warn"]
    : job.status === "waiting" ? ["⚠ " + t("printWaitingOther"), t("printWaitingPaperHint"), "warn"]
    : job.status === "failed" ? ["⚠ " + t("printFailed"), t("printFailedHint"), "warn"]
    : [t("printTitle"), t("printQueued"), ""];
  const step = job.status === "printed" ? 2 : 1;
  if (state.screen !== "printing" || $("screen").dataset.job !== job.status + (job.waiting_reason || "")) {
    show("printing", t("stepOf", step, 2, t("printStep")),
         el("h1", {}, job.status === "printed" ? "✓ " + title : title),
         el("div", { class: `notice ${kind}`, role: "status", "data-print-status": job.status }, el("strong", {}, title), el("span", {}, hint)),
         el("div", { class: "actions" }, button(t("back"), () => { state.job = null; menu(); }, "secondary")));
    $("screen").dataset.job = job.status + (job.waiting_reason || "");
    say(title + "。" + hint);
  }
  if (["printed", "failed"].includes(job.status)) state.job = null;
}

async function followJob() {
  if (!state.job || state.screen !== "printing") return;
  const answer = await call(`api/print-jobs/${state.job}`);
  if (answer.ok) printing(answer.body);
}

// -- applying for a cross-province item (the cases service's rules; the screen asks one thing at a time) ---

const PAGE_SIZE = 5;

async function applyItems(page = 0) {
  const answer = await call("api/apply/items");
  if (!answer.ok) return failed(answer);
  const items = answer.body;
  const shown = items.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
  const paging = [];
  if (page > 0) paging.push(button(t("previous"), () => applyItems(page - 1), "secondary"));
  if ((page + 1) * PAGE_SIZE < items.length) paging.push(button(t("more"), () => applyItems(page + 1), "secondary", { id: "more" }));
  show("apply-items", "", el("h1", {}, t("applyTitle")),
       items.length ? el("ul", { class: "choices" }, shown.map((item) => el("li", {},
         button([item.name, el("small", {}, item.mode_name)], () => applyStart(item.code), "secondary", { "data-item": item.code }))))
         : el("p", { class: "notice" }, t("applyNone")),
       el("div", { class: "actions" }, ...paging, button(t("back"), menu, "secondary")));
  $("screen").dataset.page = page;
  say(t("applyTitle"));
}

async function applyStart(code) {
  const answer = await call(`api/apply/items/${code}`);
  if (!answer.ok) return failed(answer);
  const guide = answer.body;
  const steps = [...guide.questions.map((q) => ({ kind: "question", q })),
                 ...(guide.phone_needed ? [{ kind: "phone" }] : []),
                 ...guide.materials.map((m) => ({ kind: "material", m })), { kind: "confirm" }];
  state.apply = { guide, steps, at: 0, answers: {}, materials: {}, key: newKey() };
  applyStep();
}

function newKey() { return (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random(); }

function applyNext() { state.apply.at += 1; applyStep(); }

function applyBack() {
  if (state.apply.at === 0) return applyItems();
  state.apply.at -= 1; applyStep();
}

function applyStep() {
  const { guide, steps, at } = state.apply;
  const step = steps[at];
  const what = { question: t("questionStep"), phone: t("questionStep"), material: t("materialStep"), confirm: t("confirmStep") }[step.kind];
  const progress = t("stepOf", at + 1, steps.length, what);
  const back = button(t("back"), applyBack, "secondary");
  if (step.kind === "question") {
    show("apply-question", progress, el("p", { class: "hint" }, guide.item.name), el("h1", {}, step.q.title),
         el("ul", { class: "choices" }, step.q.choices.map((c, i) => el("li", {}, button(c.label, () => {
           state.apply.answers[step.q.field] = c.value; applyNext();
         }, "secondary", { "data-choice": i })))), el("div", { class: "actions" }, back));
    return say(step.q.title);
  }
  if (step.kind === "phone") return phoneStep(progress, back);
  if (step.kind === "material") return materialStep(step.m, progress, back, (given) => { state.apply.materials[step.m.name] = given; applyNext(); });
  return applyConfirm(progress, back);
}

function phoneStep(progress, back) {
  let digits = state.apply.answers.phone || "";
  const shown = el("p", { class: "keypad-display", "aria-live": "polite" });
  const ok = button(t("ok"), () => { state.apply.answers.phone = digits; applyNext(); }, "primary", { id: "phone-ok" });
  const render = () => { shown.textContent = digits || "—"; ok.disabled = !/^1[3-9][0-9]{9}$/.test(digits); };
  const key = (d) => button(d, () => { if (digits.length < 11) digits += d; render(); }, "secondary", { "data-digit": d });
  show("apply-phone", progress, el("h1", {}, t("phoneTitle")), el("p", {}, t("phoneHint")), shown,
       el("div", { class: "keypad" }, ["1", "2", "3", "4", "5", "6", "7", "8", "9"].map(key),
          button(t("keypadDelete"), () => { digits = digits.slice(0, -1); render(); }, "secondary"), key("0")),
       el("div", { class: "actions" }, ok, back));
  render();
  say(t("phoneTitle"));
}

// One material: an e-certificate of the resident's that may stand for it, or a scan of the paper.
function materialStep(m, progress, back, done) {
  const status = el("div", { "aria-live": "assertive" });
  const options = el("div", { class: "actions" });
  const offer = () => {
    options.replaceChildren(
      ...(m.certificates || []).map((c) => button(t("useCertificate", c.type_name), () => done({ certificate_id: c.id, label: t("viaCertificate") }), "secondary", { "data-use-certificate": c.number })),
      button(t("scan"), scanIt, "primary", { id: "scan" }),
      m.required === false ? button(t("skip"), () => done(null), "secondary") : "", back);
  };
  const scanIt = async () => {
    options.replaceChildren();
    status.replaceChildren(el("p", {}, t("scanning")));
    say(t("scanning"));
    const answer = await call("scan", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ kind: m.name }) });
    if (answer.status === 201) {
      const scan = answer.body;
      status.replaceChildren(el("p", { class: "notice ok", role: "status", "data-scan": "done" }, "✓ " + t("scanned", scan.pages)),
                             scan.preview ? el("img", { class: "preview", src: scan.preview, alt: m.name }) : "");
      options.replaceChildren(button(t("useScan"), () => done({ material_id: scan.material.id, label: t("viaScan") }), "primary", { id: "use-scan" }),
                              button(t("scanAgain"), scanIt, "secondary"), back);
      return say(t("scanned", scan.pages));
    }
    const problem = answer.body || {};
    const words = problem.outcome === "no-document" ? t("scanNothing") : problem.outcome === "paper-jam" ? t("scanJam")
      : problem.outcome ? t("scanOffline") : t("scanRefused") + (problem.detail || "");
    if ((problem.type || "").endsWith("/kiosk-session-ended")) return failed(answer);
    status.replaceChildren(el("p", { class: "notice warn", role: "alert" }, "⚠ " + words));
    say(words);
    offer();
  };
  show("apply-material", progress, el("h1", {}, m.name), m.note ? el("p", { class: "hint" }, m.note) : "",
       el("p", {}, t("materialHint")), status, options);
  offer();
  say(m.name + "。" + t("materialHint"));
}

function applyConfirm(progress, back) {
  const { guide, answers, materials } = state.apply;
  const rows = [...guide.questions.map((q) => [q.title, (q.choices.find((c) => c.value === answers[q.field]) || {}).label || ""]),
                ...guide.materials.filter((m) => materials[m.name]).map((m) => [m.name, materials[m.name].label])];
  const submit = button(t("submit"), async () => {
    submit.disabled = true;
    const given = Object.entries(materials).filter(([, v]) => v).map(([name, v]) =>
      (v.material_id ? { name, material_id: v.material_id } : { name, certificate_id: v.certificate_id }));
    const answer = await call("api/apply", { method: "POST", headers: { "content-type": "application/json", "idempotency-key": state.apply.key },
                                             body: JSON.stringify({ item_code: guide.item.code, answers, materials: given }) });
    if (!answer.ok) return failed(answer);
    const c = answer.body;
    state.apply = null;
    show("applied", "", el("h1", {}, "✓ " + t("submitted")), el("p", { class: "notice ok", role: "status" }, t("submittedHint", c.number)),
         el("div", { class: "actions" }, button(t("printReceipt"), () => printDocument("case-receipt", c.id), "primary", { id: "print" }),
            button(t("back"), menu, "secondary")));
    say(t("submitted") + "。" + t("submittedHint", c.number));
  }, "primary", { id: "submit-apply" });
  show("apply-confirm", progress, el("p", { class: "hint" }, guide.item.name), el("h1", {}, t("confirmTitle")),
       el("dl", { class: "fields" }, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
       el("div", { class: "actions" }, submit, back));
  say(t("confirmTitle"));
}

// -- my cases: progress, and the 补正 answered with the scanner --------------------------------------------

async function myCases() {
  const answer = await call("api/me/cases");
  if (!answer.ok) return failed(answer);
  const cases = answer.body.items;
  show("cases", "", el("h1", {}, t("casesTitle")),
       cases.length ? el("ul", { class: "choices" }, cases.map((c) => el("li", {},
         button([c.item_name, el("small", {}, `${c.state === "supplement_requested" ? "⚠ " : ""}${c.state_name} · ${c.number}`)],
                () => myCase(c.id), "secondary", { "data-case": c.number }))))
         : el("p", { class: "notice" }, t("noCases")),
       el("div", { class: "actions" }, button(t("back"), menu, "secondary")));
  say(t("casesTitle"));
}

async function myCase(id) {
  const answer = await call(`api/me/cases/${id}`);
  if (!answer.ok) return failed(answer);
  const c = answer.body;
  const due = c.deadline.due_on ? t("caseDue", c.deadline.due_on, c.deadline.working_days) : t("caseDueLater", c.deadline.working_days);
  const content = [el("h1", {}, c.item_name),
    el("dl", { class: "fields" }, [[t("caseNumber"), c.number], [t("caseState"), c.state_name], [t("caseDeadline"), due]]
      .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
    el("h2", {}, t("caseProgress")),
    el("ol", { class: "timeline" }, c.timeline.slice(-4).map((s) => el("li", {}, `${s.at.slice(0, 10)} ${s.state_name}${s.division_name ? " · " + s.division_name : ""}`)))];
  const request = c.asked_now.action === "supplement" ? c.asked_now.supplement_request : null;
  if (request) {
    content.splice(2, 0, el("div", { class: "notice warn", role: "alert" }, el("strong", {}, "⚠ " + t("supplementAsked")),
      request.items.map((item) => el("p", {}, `${item.material}：${item.reason}`))));
  }
  content.push(el("div", { class: "actions" },
    request ? button(t("supplementStart"), () => supplement(c, request), "primary", { id: "supplement" }) : "",
    button(t("back"), myCases, "secondary")));
  show("case", "", ...content);
  say(c.item_name + "。" + c.state_name + (request ? "。" + t("supplementAsked") : ""));
}

function supplement(c, request) {
  const given = [];
  const stepOf = (i) => t("stepOf", i + 1, request.items.length + 1, i < request.items.length ? t("materialStep") : t("confirmStep"));
  const next = (i) => {
    if (i < request.items.length) {
      const item = request.items[i];
      return materialStep({ name: item.material, note: item.reason, required: true, certificates: [] }, stepOf(i),
                          button(t("back"), () => (i ? next(i - 1) : myCase(c.id)), "secondary"),
                          (v) => { given[i] = { name: item.material, ...(v.material_id ? { material_id: v.material_id } : { certificate_id: v.certificate_id }) }; next(i + 1); });
    }
    const send = button(t("submit"), async () => {
      send.disabled = true;
      const answer = await call(`api/me/cases/${c.id}/supplement`, { method: "POST", headers: { "content-type": "application/json" },
                                                                     body: JSON.stringify({ materials: given }) });
      if (!answer.ok) return failed(answer);
      show("supplemented", "", el("h1", {}, "✓ " + t("supplementDone")), el("p", { class: "notice ok", role: "status" }, t("supplementDoneHint")),
           el("div", { class: "actions" }, button(t("back"), myCases, "secondary")));
      say(t("supplementDone") + "。" + t("supplementDoneHint"));
    }, "primary", { id: "submit-supplement" });
    show("supplement-confirm", stepOf(i), el("h1", {}, t("confirmTitle")),
         el("dl", { class: "fields" }, given.map((g) => [el("dt", {}, g.name), el("dd", {}, t("viaScan"))])),
         el("div", { class: "actions" }, send, button(t("back"), () => next(i - 1), "secondary")));
  };
  next(0);
}

// -- pension eligibility recognition (the pension service's rules; this screen only follows them) -----

async function pension() {
  const answer = await call("api/pension");
  if (answer.status === 404) {
    return show("pension", "", el("h1", {}, t("pensionTitle")), el("p", { class: "notice" }, t("pensionNotOnRoster")),
                el("div", { class: "actions" }, button(t("back"), menu, "secondary")));
  }
  if (!answer.ok) return failed(answer);
  const { status, precheck, face_consent: consent } = answer.body;
  const summary = state.lang === "zh" ? status.summary_zh : status.summary_en;
  const blockers = precheck.reasons.filter((r) => !["overdue"].includes(r.code));
  const content = [el("h1", {}, t("pensionTitle")), el("p", { class: "notice" }, summary),
                   el("p", {}, t("pensionNextDue", status.next_due))];
  let next;
  if (precheck.reasons.some((r) => r.code === "not-enrolled")) next = button(t("taskEnrol"), () => enrolOffer(pension), "primary", { id: "pension-next" });
  else if (!consent.given) next = button(t("agree"), () => pensionConsent(), "primary", { id: "pension-next" });
  else if (precheck.ready) next = button(t("pensionStart"), () => liveness(), "primary", { id: "pension-next" });
  if (!precheck.ready && blockers.length) {
    content.push(el("div", { class: "notice warn" }, el("strong", {}, "⚠ " + t("pensionNotReady")),
      blockers.map((r) => el("p", {}, state.lang === "zh" ? `${r.zh} ${r.todo_zh}` : `${r.en} ${r.todo_en}`))));
  }
  content.push(el("div", { class: "actions" }, next || "", button(t("back"), menu, "secondary")));
  show("pension", "", ...content);
  say(summary);
}

function pensionConsent() {
  show("pension-consent", "", el("h1", {}, t("consentTitle")), el("p", {}, t("consentHint")),
       el("div", { class: "actions" }, button(t("agree"), async () => {
         const answer = await call("api/pension/face-consent", { method: "POST" });
         return answer.ok ? pension() : failed(answer);
       }, "primary", { id: "agree" }), button(t("decline"), menu, "secondary")));
  say(t("consentTitle") + "。" + t("consentHint"));
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function liveness() {
  const answer = await call("api/pension/challenges", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ movement: "any" }) });
  if (!answer.ok) return failed(answer);
  const challenge = answer.body;
  const video = el("video", { autoplay: "", playsinline: "", muted: "", "aria-label": t("livenessStep") });
  const prompt = el("p", { class: "step-title", "aria-live": "assertive" });
  const total = challenge.steps.length + 1;
  show("liveness", t("stepOf", 1, total, t("livenessStep")), el("h1", {}, t("livenessStep")),
       el("div", { class: "camera" }, video, el("div", {}, prompt)));
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    video.srcObject = state.stream;
    await new Promise((resolve) => { video.onloadeddata = resolve; if (video.readyState >= 2) resolve(); });
  } catch (_) {
    return failed({ body: {} });
  }
  const frames = [];
  const grab = async () => {
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    frames.push(await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92)));
  };
  const pose = async (action, text, stepNumber) => {
    $("screen").dataset.action = action;
    prompt.textContent = text;
    $("progress").textContent = t("stepOf", stepNumber, total, t("livenessStep"));
    say(text);
    // Time to move. A stand-in camera that moves at once (the browser test's) says when it shows the pose.
    await (window.KIOSK_POSE_SHOWN ? window.KIOSK_POSE_SHOWN(action) : wait(1800));
    await grab();
  };
  await pose("frontal", t("livenessFront"), 1);
  for (const [index, step] of challenge.steps.entries()) {
    await pose(step.action, state.lang === "zh" ? step.zh : step.en, index + 2);
    await pose("frontal", t("livenessBack"), index + 2);
  }
  delete $("screen").dataset.action;
  prompt.textContent = t("livenessSending");
  say(t("livenessSending"));
  const form = new FormData();
  frames.forEach((frame, i) => form.append("frames", frame, `frame${i}.jpg`));
  const result = await call(`api/pension/challenges/${challenge.challenge_id}/answer`, { method: "POST", body: form });
  if (result.status !== 201) {
    const problem = result.body || {};
    if ((problem.type || "").endsWith("/kiosk-session-ended")) return failed(result);
    return show("liveness-failed", "", el("h1", {}, "⚠ " + t("faceFailed")), problemNotice(problem),
                el("div", { class: "actions" }, button(t("tryAgain"), liveness, "primary", { id: "pension-retry" }),
                   button(t("back"), menu, "secondary")));
  }
  const recognition = result.body;
  show("recognised", "", el("h1", {}, "✓ " + t("recognised")),
       el("p", { class: "notice ok", role: "status" }, t("recognisedHint", recognition.next_due)),
       el("div", { class: "actions" }, recognition.certificate_id
         ? button(t("printRecord"), () => printDocument("certificate", recognition.certificate_id), "primary", { id: "print" }) : "",
         button(t("back"), menu, "secondary")));
  say(t("recognised") + "。" + t("recognisedHint", recognition.next_due));
}

function enrolOffer(after = menu) {
  state.afterEnrol = after;
  show("enrol", "", el("h1", {}, t("enrolTitle")), el("p", {}, t("enrolHint")),
       el("div", { class: "actions" }, button(t("agree"), enrol, "primary", { id: "agree" }), button(t("decline"), menu, "secondary")));
  say(t("enrolTitle") + "。" + t("enrolHint"));
}

async function enrol() {
  const answer = await call("face-enrolment", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ consent: true }) });
  if (!answer.ok) return failed(answer);
  state.session.resident.face_enrolled = true;
  const after = typeof state.afterEnrol === "function" ? state.afterEnrol : menu;
  show("enrolled", "", el("h1", {}, "✓ " + t("enrolled")), el("p", {}, t("enrolledHint")),
       el("div", { class: "actions" }, button(t("back"), after, "primary", { id: "after-enrol" })));
}

// -- staff assistance (帮办): window staff sign in with their own account on the kiosk --------------------

function assist() {
  const assistant = state.session.assistant;
  if (assistant) {
    show("assist", "", el("h1", {}, t("assistTitle")), el("p", { class: "notice ok", role: "status" }, t("assistNow", assistant.display_name)),
         el("div", { class: "actions" }, button(t("assistEnd"), endAssistance, "primary", { id: "assist-end" }), button(t("back"), menu, "secondary")));
    return say(t("assistNow", assistant.display_name));
  }
  const field = (id, label, type) => [el("label", { for: id }, label),
    el("input", { id, type, autocomplete: "off", autocapitalize: "off", spellcheck: "false", required: "" })];
  const status = el("div", { "aria-live": "assertive" });
  const form = el("form", { class: "sign-in", novalidate: "" }, field("assist-username", t("assistUser"), "text"),
                  field("assist-password", t("assistPassword"), "password"), status,
                  el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", id: "assist-submit" }, t("assistStart")),
                     button(t("back"), menu, "secondary")));
  form.addEventListener("submit", (event) => { event.preventDefault(); startAssistance(status); });
  show("assist", "", el("h1", {}, t("assistTitle")), el("p", {}, t("assistHint")), form);
  $("assist-username").focus();
  say(t("assistTitle") + "。" + t("assistSpeak"));
}

async function startAssistance(status) {
  const [user, secret, submit] = [$("assist-username"), $("assist-password"), $("assist-submit")];
  const refused = (words) => {
    status.replaceChildren(el("p", { class: "notice warn", role: "alert", "data-assist-problem": "" }, "⚠ " + words));
    say(words);
  };
  const username = user.value.trim();
  const password = secret.value;
  if (!username || !password) return refused(t("assistMissing"));
  submit.disabled = true;
  state.assistChanges += 1;
  status.replaceChildren(el("p", {}, t("assistBusy")));
  const answer = await call("api/session/assistance", { method: "POST", headers: { "content-type": "application/json" },
                                                         body: JSON.stringify({ username, password }) });
  secret.value = "";  // never left on a public screen, whatever the answer
  submit.disabled = false;
  if (answer.ok) {
    state.session.assistant = answer.body.assistant;
    await menu();
    return say(t("assistStarted", answer.body.assistant.display_name));
  }
  // Words chosen by the problem's type alone: the screen repeats nothing the server said about the account.
  const type = ((answer.body || {}).type || "").split("/").pop();
  if (type === "kiosk-session-ended") return failed(answer);
  refused({ unauthenticated: t("assistWrong"), forbidden: t("assistNotHere"), "outside-division": t("assistNotHere"),
            "rate-limited": t("assistTooMany"), "validation-error": t("assistMissing") }[type] || t("errorHint"));
  secret.focus();
}

async function endAssistance() {
  state.assistChanges += 1;
  const answer = await call("api/session/assistance", { method: "DELETE" });
  if (!answer.ok) return failed(answer);
  state.session.assistant = answer.body.assistant;
  assistedBanner();
  if (state.screen === "assist") await menu();
  say(t("assistEnded"));
}

function failed(answer) {
  const problem = answer.body || {};
  if ((problem.type || "").endsWith("/kiosk-session-ended")) return ended(ENDED_REASONS[problem.reason] || "endedCard");
  show("error", "", el("h1", {}, "⚠ " + t("errorTitle")), el("p", { class: "notice warn" }, problem.reasons ? reasonText(problem) : t("errorHint")),
       el("div", { class: "actions" }, button(t("back"), state.session ? menu : welcome, "secondary")));
}

// What the "signed out" screen says for each reason the server gives (kiosk-session-ended).
const ENDED_REASONS = { "idle-timeout": "endedIdle", "assistant-disabled": "endedAssistant" };

// The "signed out" screen stays until it is touched, or for ENDED_MS once the card is out (or another
// card is in): long enough for an elderly resident to read it, and to hear it spoken.
const ENDED_MS = 8000;

function ended(why, again = false) {
  state.session = null; state.job = null;
  $("idle").hidden = true;
  if (!again) {
    state.ended = { why, at: Date.now(), card: state.device && state.device.card ? state.device.card.name : null };
  }
  show("ended", "", el("h1", {}, "✓ " + t("endedTitle")), el("p", {}, t(why)), el("p", { class: "hint" }, t("endedHint")),
       el("div", { class: "actions" }, button(t("endedDone"), welcome, "primary", { id: "ended-done" })));
  if (!again) say(t(why) + t("endedHint"));
}

function endedLongEnough() {
  const card = state.device.card ? state.device.card.name : null;
  return Date.now() - state.ended.at >= ENDED_MS && (card === null || card !== state.ended.card);
}

function offline() {
  state.job = null;
  $("idle").hidden = true;
  show("offline", "", el("h1", {}, "⚠ " + t("offlineTitle")), el("p", { class: "notice warn" }, t("offlineHint")),
       el("div", { class: "actions" }, button(t("retry"), reconnect, "primary", { id: "reconnect" })));
  say(t("offlineTitle") + "。" + t("offlineHint"));
}

async function reconnect() {
  try { await refresh(); } catch (error) { if (error instanceof Offline) return offline(); throw error; }
  if (!state.device.online) return offline();
  return state.session && state.device.session ? menu() : welcome();
}

// -- the device, the card and the idle timeout --------------------------------------------------------

async function refresh() {
  const answer = await call("state");
  state.device = answer.body;
  const scale = state.device.configuration.font_scale || 1;
  document.documentElement.style.setProperty("--base", `${Math.round((state.large ? 32 : 24) * scale)}px`);
}

async function poll() {
  const hadSession = Boolean(state.session);
  await refresh();
  if (state.screen === "offline") return;
  if (hadSession && !state.device.session) return ended(state.device.card ? "endedIdle" : "endedCard");
  if (!state.session && state.device.card && state.screen === "welcome") return faceCheck();
  if (!state.device.card && state.screen === "face") return welcome();
  if (state.screen === "ended" && endedLongEnough()) return welcome();
  await followJob();
  watchIdle();
}

function touch(force = false) {
  const warned = state.idleShown;
  if (state.idleShown) { state.idleShown = false; $("idle").hidden = true; }
  // The server counts activity on each request: tell it, at most every 10 s, that someone is here — at
  // once while the screen warns, so that the time it promises is the server's too.
  if (state.session && (force || warned || Date.now() - state.lastPing > 10000)) {
    state.lastPing = Date.now();
    const changes = state.assistChanges;  // an answer overtaken by a start or end of assistance is stale
    call("api/session").then((answer) => {
      if (answer.status === 401) return failed(answer);
      if (answer.ok && state.session && changes === state.assistChanges) {
        state.session.assistant = answer.body.assistant; assistedBanner();
      }
    }).catch(() => {});
  }
}

function watchIdle() {
  if (!state.session) return;
  const config = state.device.configuration;
  const idle = (Date.now() - state.lastActive) / 1000;
  const left = Math.ceil((config.idle_timeout_seconds || 120) - idle);
  if (left <= 0) {
    call("session", { method: "DELETE" }).catch(() => {});
    return ended("endedIdle");
  }
  if (left <= (config.idle_warning_seconds || 30)) {
    $("idle-text").textContent = t("idle", left);
    if (!state.idleShown) { state.idleShown = true; $("idle").hidden = false; say(t("idle", left)); }
  }
}

async function loop() {
  try {
    await poll();
  } catch (error) {
    if (error instanceof Offline) { if (state.screen !== "offline") offline(); } else console.error(error);
  }
  setTimeout(loop, 1000);
}

window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof Offline) { event.preventDefault(); offline(); }
});
document.addEventListener("pointerdown", () => touch(), { capture: true });
document.addEventListener("keydown", () => touch(), { capture: true });
$("stay").addEventListener("click", () => touch(true));
$("language").addEventListener("click", () => { state.lang = state.lang === "zh" ? "en" : "zh"; chrome(); rerender(); });
$("large").addEventListener("click", () => { state.large = !state.large; document.documentElement.classList.toggle("large", state.large); chrome(); refresh(); });
$("help").addEventListener("click", () => {
  // Staff assist a signed-in resident; before the card is read, the button calls them over.
  if (state.session) return assist();
  say(t("helpAsked")); $("progress").textContent = t("helpAsked");
});
$("end-assist").addEventListener("click", () => endAssistance());
$("exit").addEventListener("click", async () => { await call("session", { method: "DELETE" }); ended("endedSignedOut"); });

function rerender() {
  const again = { welcome, menu, certificates, pension, face: () => faceCheck(),
                  "apply-items": () => applyItems(), cases: myCases, "apply-question": applyStep, "apply-phone": applyStep,
                  "apply-material": applyStep, "apply-confirm": applyStep,
                  enrol: () => enrolOffer(state.afterEnrol), ended: () => ended(state.ended.why, true), assist: () => assist() };
  (again[state.screen] || (() => {}))();
}

chrome();
refresh().then(welcome).catch(offline).finally(loop);
