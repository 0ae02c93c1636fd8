"""Names and numbers shared by every part of the project.

One place for observation keys, CALVIN's vector indices, task names and protocol constants,
so that no module spells them inline. Facts follow CALVIN (Mees et al., RA-L 2022) as
summarised in the project's spec: ``robot_obs`` is 15-d, ``scene_obs`` is 24-d, actions are 7-d.
"""

from __future__ import annotations

from typing import Final

# --- observation keys -------------------------------------------------------------------------
RGB_STATIC: Final = "rgb_static"
RGB_GRIPPER: Final = "rgb_gripper"
DEPTH_STATIC: Final = "depth_static"
DEPTH_GRIPPER: Final = "depth_gripper"
ROBOT_OBS: Final = "robot_obs"
SCENE_OBS: Final = "scene_obs"
INSTRUCTION_EMBEDDING: Final = "instruction_embedding"

RGB_KEYS: Final = (RGB_STATIC, RGB_GRIPPER)
DEPTH_KEYS: Final = (DEPTH_STATIC, DEPTH_GRIPPER)

STATIC_SIZE: Final = 200  # static camera, square, pixels
GRIPPER_SIZE: Final = 84  # wrist camera, square, pixels

# --- dataset keys (CALVIN's episode_XXXXXXX.npz) ----------------------------------------------
ACTIONS: Final = "actions"
REL_ACTIONS: Final = "rel_actions"

# --- robot_obs (15,) --------------------------------------------------------------------------
ROBOT_OBS_DIM: Final = 15
TCP_POS: Final = slice(0, 3)  # world xyz, m
TCP_ORN: Final = slice(3, 6)  # world euler xyz, rad
GRIPPER_WIDTH: Final = 6  # m, sum of finger joints
ARM_JOINTS: Final = slice(7, 14)  # 7 joint angles, rad
GRIPPER_ACTION: Final = 14  # last commanded gripper action, -1 close / +1 open

# --- scene_obs (24,) --------------------------------------------------------------------------
SCENE_OBS_DIM: Final = 24
SLIDER: Final = 0  # sliding door joint, m
DRAWER: Final = 1  # drawer joint, m
BUTTON: Final = 2  # button joint, m
SWITCH: Final = 3  # switch joint, m
LIGHTBULB: Final = 4  # bulb logical state 0/1
LED: Final = 5  # LED logical state 0/1
BLOCK_COLORS: Final = ("red", "blue", "pink")
BLOCK_NAMES: Final = tuple(f"block_{c}" for c in BLOCK_COLORS)
BLOCK_SLICES: Final = {  # each: x, y, z, euler x, y, z
    "block_red": slice(6, 12),
    "block_blue": slice(12, 18),
    "block_pink": slice(18, 24),
}

# --- actions ----------------------------------------------------------------------------------
ACTION_DIM: Final = 7
MAX_REL_POS: Final = 0.02  # m per step for a relative action of 1.0
MAX_REL_ORN: Final = 0.05  # rad per step for a relative action of 1.0
GRIPPER_OPEN: Final = 1.0
GRIPPER_CLOSE: Final = -1.0

# --- timing -----------------------------------------------------------------------------------
CONTROL_FREQ: Final = 30  # Hz
PHYSICS_FREQ: Final = 240  # Hz
ACTION_REPEAT: Final = PHYSICS_FREQ // CONTROL_FREQ  # 8 substeps per env.step
EP_LEN: Final = 360  # env steps per subtask in CALVIN's long-horizon protocol
CHAIN_LEN: Final = 5  # subtasks per long-horizon chain
NUM_SEQUENCES: Final = 1000  # chains in CALVIN's benchmark

# --- evaluation reset (CALVIN's neutral robot pose, gripper open) ------------------------------
NEUTRAL_ROBOT_OBS: Final = (
    0.02587, -0.23131, 0.57128, 3.09045, -0.02909, 1.50014, 0.08,
    -1.21779, 1.03988, 2.11978, -2.34205, -0.87016, 1.64119, 0.55345, 1.0,
)
NEUTRAL_JOINTS: Final = (-1.21779, 1.03988, 2.11978, -2.34205, -0.87016, 1.64119, 0.55345)
ROBOT_BASE_POS: Final = (-0.34, -0.46, 0.24)

# symbolic-state to scene_obs mapping used by CALVIN's evaluation reset
SLIDER_LEFT_POS: Final = 0.28
DRAWER_OPEN_POS: Final = 0.22
SWITCH_ON_POS: Final = 0.088
BLOCK_SPOTS: Final = {
    "slider_left": (-0.2409, 0.0924, 0.4610),
    "slider_right": (0.0703, 0.0924, 0.4610),
    "table_0": (0.05, -0.12, 0.46),
    "table_1": (0.23, -0.12, 0.46),
}

# --- language ---------------------------------------------------------------------------------
LANG_EMB_DIM: Final = 384  # CALVIN's sentence-embedding size (MiniLM)

# --- tasks (CALVIN's 34, in CALVIN's task-file order) ------------------------------------------
TASK_NAMES: Final = (
    "rotate_red_block_right", "rotate_red_block_left",
    "rotate_blue_block_right", "rotate_blue_block_left",
    "rotate_pink_block_right", "rotate_pink_block_left",
    "push_red_block_right", "push_red_block_left",
    "push_blue_block_right", "push_blue_block_left",
    "push_pink_block_right", "push_pink_block_left",
    "move_slider_left", "move_slider_right",
    "open_drawer", "close_drawer",
    "lift_red_block_table", "lift_red_block_slider", "lift_red_block_drawer",
    "lift_blue_block_table", "lift_blue_block_slider", "lift_blue_block_drawer",
    "lift_pink_block_table", "lift_pink_block_slider", "lift_pink_block_drawer",
    "place_in_slider", "place_in_drawer",
    "stack_block", "unstack_block",
    "turn_on_lightbulb", "turn_off_lightbulb",
    "turn_on_led", "turn_off_led",
    "push_into_drawer",
)
assert len(TASK_NAMES) == 34

# --- embedded play-table geometry (envs.play_table; scene D at CALVIN's 0.8 scale) -------------
BLOCK_HEIGHT: Final = 0.04  # m, every block is 0.04 high (and 0.04 deep); lengths differ
BLOCK_SIZES: Final = {  # full box extents x, y, z in the block frame, m (scene D: middle/small/big)
    "block_red": (0.056, 0.04, 0.04),
    "block_blue": (0.04, 0.04, 0.04),
    "block_pink": (0.08, 0.04, 0.04),
}
# Block centre resting in the middle of the CLOSED drawer (drawer joint 0). The spot rides with the
# drawer: its y is DRAWER_BLOCK_SPOT[1] - drawer_joint (the drawer opens towards -y, the robot).
DRAWER_BLOCK_SPOT: Final = (0.18, -0.06, 0.34)
DRAWER_BLOCK_SPOT_OPEN: Final = (0.18, -0.28, 0.34)  # the same spot with the drawer at 0.22
TABLE_TOP_Z: Final = 0.44  # desk top and slider shelf (plank) surface height, m
DRAWER_FLOOR_Z: Final = 0.32  # drawer floor surface height, m

# --- robot segmentation (RoboSeg-format colour masks) -------------------------------------------
ROBOSEG_ROBOT_COLOR: Final = (251, 154, 153)  # RGB of robot pixels in a RoboSeg colour mask
