"""Why a face check did not pass, in words a person at a phone or kiosk can act on.

Codes are stable (clients may switch on them); messages are short, say what to do next, and never
blame the person. Chinese first: most users read it.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from backend.eligibility.methods import FACE_ALTERNATIVES
from backend.errors import DomainError
from backend.face.schemas import ChallengeStep, FaceReason

E = TypeVar("E", bound=DomainError)

REASONS: dict[str, tuple[str, str]] = {
    "image-too-large": ("照片文件太大。请重新拍一张。",
                        "The photo file is too large. Please take a new photo."),
    "image-too-many-pixels": ("照片尺寸太大。请用普通拍照模式重新拍一张。",
                              "The photo is too large. Please take a new photo in normal camera mode."),
    "not-an-image": ("收到的不是照片。请拍一张照片（JPEG、PNG 或 WebP）。",
                     "This is not a photo. Please send a photo (JPEG, PNG or WebP)."),
    "image-corrupt": ("照片已损坏或不完整。请重新拍一张。",
                      "The photo is damaged or incomplete. Please take a new photo."),
    "no-face": ("没有找到人脸。请正对镜头，让整张脸都在画面里。",
                "No face was found. Please face the camera with your whole face in the picture."),
    "several-faces": ("画面里有不止一张脸。请只让本人出现在镜头前。",
                      "More than one face is in the picture. Only you should be in front of the camera."),
    "face-too-small": ("脸离镜头太远。请靠近一些。",
                       "Your face is too far from the camera. Please come closer."),
    "face-cut-off": ("脸没有完整地在画面里。请移到画面中间。",
                     "Part of your face is outside the picture. Please move to the middle."),
    "face-blurred": ("照片模糊。请保持不动，擦一擦镜头再拍。",
                     "The photo is blurred. Please hold still and wipe the camera lens."),
    "too-dark": ("光线太暗。请到亮一点的地方，或打开灯。",
                 "It is too dark. Please move somewhere brighter or turn on a light."),
    "too-bright": ("光线太强。请避开直射的阳光或灯光。",
                   "The light is too strong. Please move away from direct sunlight or lamps."),
    "face-not-frontal": ("请正对镜头，不要侧脸、抬头或低头。",
                         "Please look straight at the camera, without turning or tilting your head."),
    "mismatch": ("照片与登记的人像不一致。请本人正对镜头再试一次。",
                 "The face does not match the registered photo. Please try again yourself, facing the camera."),
    "frames-identical": ("收到的是同一张画面。请按提示转动头部，不要使用照片。",
                         "The frames are all the same picture. Please move your head as asked; photos cannot be used."),
    "pose-wrong": ("头部动作与提示不符。请按屏幕上的顺序慢慢做动作。",
                   "The head movements did not follow the instructions. Please do them slowly, in the order shown."),
    "person-changed": ("检测过程中换了人。请本人独自完成全部动作。",
                       "A different person appeared during the check. Please do all the steps yourself."),
    "frames-discontinuous": ("画面不连贯。请保持手机或设备不动，一次连续完成全部动作。",
                             "The frames are not one continuous recording. Keep the device still and do all "
                             "the movements in one go."),
    "presentation-attack": ("画面像是照片、屏幕或面具。请本人直接面对镜头。",
                            "The picture looks like a photo, a screen or a mask. Please face the camera yourself."),
    "frame-count": ("画面数量不对。请重新开始，按提示完成全部动作。",
                    "The number of frames is wrong. Please start again and do all the movements shown."),
    "not-enrolled": ("还没有登记人像。请带身份证到服务窗口登记。",
                     "No face photo is registered yet. Please register at a service window with your ID card."),
    "challenge-expired": ("动作检测已超时。请重新开始。",
                          "The check has timed out. Please start again."),
    "challenge-used": ("这次动作检测已经提交过。请重新开始。",
                       "This check was already submitted. Please start again."),
    "service-busy": ("系统繁忙，请稍等几秒再试。",
                     "The service is busy. Please wait a few seconds and try again."),
    "request-too-large": ("一次发送的照片太大或太多。请重新开始。",
                          "Too much photo data was sent at once. Please start again."),
    "request-invalid": ("没有收到完整的照片。请重新拍照再试。",
                        "The photos did not arrive complete. Please take them again and retry."),
    "card-mismatch": ("您的面部与身份证照片不一致。请本人正对镜头再试一次，或请工作人员协助。",
                      "Your face does not match the photo on the ID card. Please face the camera yourself and try "
                      "again, or ask staff for help."),
    "card-photo-unusable": ("身份证芯片照片无法识别。请重新插卡，或到窗口办理。",
                            "The photo on the ID card's chip cannot be read. Please insert the card again, or go to "
                            "a service window."),
    "capture-signature-invalid": ("这次检测的签名无效。请在本应用中重新开始检测。",
                                  "The check's signature is not valid. Please start the check again in the app."),
    "capture-replayed": ("这次检测的签名已经用过。请重新开始检测。",
                         "This check's signature was already used. Please start the check again."),
    "installation-unknown": ("找不到这台手机的登记。请在应用中重新登记这台手机。",
                             "This phone's registration was not found. Please register the phone again in the app."),
    "installation-revoked": ("这台手机的登记已被停用。请重新登记，或到窗口、自助终端办理。",
                             "This phone's registration was blocked. Register it again, or use a counter or a kiosk."),
    "capture-not-accepted": ("这项业务需要在官方应用（已验证的手机）或自助终端上完成人脸检测。",
                             "This needs a face check in the official app on a verified phone, or at a kiosk."),
    "nonce-expired": ("登记已超时或已使用。请重新开始登记这台手机。",
                      "The registration timed out or was already used. Please start registering the phone again."),
    "attestation-unavailable": ("暂不支持在这类手机上登记。请使用窗口或自助终端。",
                                "Registering this kind of phone is not available. Please use a counter or a kiosk."),
    "attestation-malformed": ("手机发来的登记信息不完整。请更新应用后重试。",
                              "The phone's registration data is incomplete. Please update the app and try again."),
    "attestation-chain-invalid": ("无法确认这台手机的安全芯片。请更新应用后重试。",
                                  "The phone's security chip could not be confirmed. Please update the app and retry."),
    "attestation-untrusted-root": ("无法确认这台手机的安全芯片。请使用窗口或自助终端。",
                                   "The phone's security chip could not be confirmed. Please use a counter or a kiosk."),
    "attestation-revoked": ("这台手机的安全证书已被吊销。请使用窗口或自助终端。",
                            "This phone's security certificate was revoked. Please use a counter or a kiosk."),
    "attestation-nonce-mismatch": ("登记信息与本次请求不符。请重新开始登记。",
                                   "The registration does not belong to this request. Please start again."),
    "attestation-not-hardware": ("这台手机不能把密钥保存在安全芯片中。请使用窗口或自助终端。",
                                 "This phone cannot keep the key in secure hardware. Please use a counter or a kiosk."),
    "attestation-boot-unverified": ("这台手机的系统已被修改（如已解锁或刷机）。请使用窗口或自助终端。",
                                    "This phone's system was modified (unlocked or rooted). Please use a counter or a kiosk."),
    "attestation-app-mismatch": ("请使用从官方渠道安装的应用。",
                                 "Please use the app installed from the official store."),
    "attempts-exhausted": ("尝试次数太多，请稍后再试；也可以预约窗口协助或上门认证。",
                           "Too many attempts. Please try later, or book help at a service window or a home visit."),
}

ACTION_PROMPTS: dict[str, tuple[str, str]] = {
    "turn_left": ("请慢慢向左转头", "Slowly turn your head to your left"),
    "turn_right": ("请慢慢向右转头", "Slowly turn your head to your right"),
    "look_up": ("请慢慢抬头", "Slowly look up"),
    "look_down": ("请慢慢低头", "Slowly look down"),
}

# What a person can do instead when face checks keep failing; face is never the only route. The codes
# are the recognition methods' (one vocabulary: backend/eligibility/methods.py).
ALTERNATIVES = FACE_ALTERNATIVES


def reason(code: str, frame: int | None = None) -> FaceReason:
    zh, en = REASONS[code]
    return FaceReason(code=code, zh=zh, en=en, frame=frame)


def reasons(codes: list[str], frame: int | None = None) -> list[FaceReason]:
    return [reason(code, frame) for code in codes]


def step(action: str) -> ChallengeStep:
    zh, en = ACTION_PROMPTS[action]
    return ChallengeStep(action=action, zh=zh, en=en)  # type: ignore[arg-type]


def with_reasons(error: E, *codes: str, frame: int | None = None) -> E:
    """`error` carrying the reasons for `codes`, for the person to read or hear."""
    error.extensions["reasons"] = msgspec.to_builtins(reasons(list(codes), frame))
    return error
