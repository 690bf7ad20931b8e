def execute_command(image, my_fig, time_wait_between_lines, syntax):
    # Question: Is there a star above a sign?
    # Remember: vertical_center grows upwards (lower is the bottom edge).
    image_patch = ImagePatch(image)
    sign_patches = image_patch.find("sign")
    if len(sign_patches) == 0:
        return "no"
    star_patches = image_patch.find("star")
    for star_patch in star_patches:
        for sign_patch in sign_patches:
            if star_patch.vertical_center > sign_patch.vertical_center + 5:
                return "yes"
    return "no"
