def execute_command(image):
    # Question: Is there a STOP sign to the right of a circle?
    image_patch = ImagePatch(image)
    circle_patches = image_patch.find("circle")
    if len(circle_patches) == 0:
        return "no"
    for sign_patch in image_patch.find("sign"):
        # only signs that say STOP count
        if sign_patch.verify_property("sign", "says STOP"):
            for circle_patch in circle_patches:
                if sign_patch.horizontal_center > circle_patch.horizontal_center + 5:
                    return "yes"
    return "no"
