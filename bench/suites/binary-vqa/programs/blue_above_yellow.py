def execute_command(image, my_fig, time_wait_between_lines, syntax):
    # Question: Is there a blue object above a yellow object?
    image_patch = ImagePatch(image)
    blue_patches = image_patch.find("blue object")
    if len(blue_patches) == 0:
        return "no"
    yellow_patches = image_patch.find("yellow object")
    if len(yellow_patches) == 0:
        # faded yellow is easily missed by the color filter: ask directly
        if image_patch.simple_query("Is there a yellow object?") != "yes":
            return "no"
        return image_patch.simple_query("Is there a blue object above a yellow object?")
    for blue_patch in blue_patches:
        for yellow_patch in yellow_patches:
            if blue_patch.vertical_center > yellow_patch.vertical_center + 5:
                return "yes"
    return "no"
